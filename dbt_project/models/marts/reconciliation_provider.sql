-- Provider source x customer x currency on the day of the provider's view (its last API
-- backfill): the provider's own active subscriptions and MRR against churniq's on the same day,
-- in the same original currency (major units). Only the subscriptions the provider's source
-- started count on churniq's side: a customer's subscriptions from elsewhere are not the
-- provider's to confirm. churniq's states end at its as-of date (the watermark by default): a
-- change scheduled between it and the view's day (a trial ending) is not on churniq's side, so
-- `churniq_as_of_date` is kept beside the comparison.
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

provider_subscriptions as (

    select * from {{ ref('stg_connectors__provider_views') }}

),

subscription_events as (

    select * from {{ ref('stg_events__subscriptions') }}

),

subscription_states as (

    select * from {{ ref('int_subscription_states') }}

),

currencies as (

    select * from {{ ref('stg_reference__currencies') }}

),

provider_days as (

    select
        provider_source,
        max(as_of) as as_of,
        max(as_of_date) as as_of_date
    from provider_subscriptions
    group by provider_source

),

provider as (

    select
        provider_source,
        customer_id,
        currency,
        count(*) as provider_subscriptions,
        sum(provider_mrr) as provider_mrr
    from provider_subscriptions
    group by provider_source, customer_id, currency

),

source_subscriptions as (

    select distinct
        event_source as provider_source,
        subscription_id
    from subscription_events
    where event_type = 'subscription.started'

),

churniq as (

    select
        provider_days.provider_source,
        subscription_states.customer_id,
        subscription_states.currency,
        count(*) as churniq_subscriptions,
        sum(subscription_states.mrr_local * currencies.minor_unit_value) as churniq_mrr
    from provider_days
    inner join source_subscriptions
        on provider_days.provider_source = source_subscriptions.provider_source
    inner join subscription_states
        on source_subscriptions.subscription_id = subscription_states.subscription_id
        and subscription_states.valid_from <= provider_days.as_of_date
        and (subscription_states.valid_to is null or subscription_states.valid_to > provider_days.as_of_date)
    left join currencies
        on subscription_states.currency = currencies.currency
    where subscription_states.is_live
    group by provider_days.provider_source, subscription_states.customer_id, subscription_states.currency

),

compared as (

    select
        coalesce(provider.provider_source, churniq.provider_source) as provider_source,
        coalesce(provider.customer_id, churniq.customer_id) as customer_id,
        coalesce(provider.currency, churniq.currency) as currency,
        coalesce(provider.provider_subscriptions, 0) as provider_subscriptions,
        coalesce(churniq.churniq_subscriptions, 0) as churniq_subscriptions,
        cast(coalesce(provider.provider_mrr, 0) as decimal(38, 6)) as provider_mrr,
        cast(coalesce(churniq.churniq_mrr, 0) as decimal(38, 6)) as churniq_mrr
    from provider
    full outer join churniq
        on provider.provider_source = churniq.provider_source
        and provider.customer_id = churniq.customer_id
        and provider.currency = churniq.currency

),

final as (

    select
        compared.provider_source,
        provider_days.as_of,
        provider_days.as_of_date,
        as_of.as_of_date as churniq_as_of_date,
        compared.customer_id,
        compared.currency,
        compared.provider_subscriptions,
        compared.churniq_subscriptions,
        compared.churniq_subscriptions - compared.provider_subscriptions as subscriptions_difference,
        compared.provider_mrr,
        compared.churniq_mrr,
        compared.churniq_mrr - compared.provider_mrr as mrr_difference,
        compared.churniq_subscriptions = compared.provider_subscriptions
            and abs(compared.churniq_mrr - compared.provider_mrr) * 2
                < coalesce(currencies.minor_unit_value, cast(0.01 as decimal(18, 6))) as matches
    from compared
    inner join provider_days
        on compared.provider_source = provider_days.provider_source
    cross join as_of
    left join currencies
        on compared.currency = currencies.currency

)

select * from final
