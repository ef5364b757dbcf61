-- One row per subscription: lifecycle, churn type and its state and MRR as of the as-of date.
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions') }}

),

states as (

    select * from {{ ref('int_subscription_states') }}

),

fx as (

    select * from {{ ref('int_fx_rates_daily') }}

),

offers as (

    select *
    from (
        select
            stg_events__offers.*,
            row_number() over (partition by offer_id order by published_at desc, event_id desc) as rn
        from {{ ref('stg_events__offers') }}
    ) as ranked
    where rn = 1

),

current_states as (

    select states.*
    from states
    where states.valid_to is null

),

current_values as (

    select
        current_states.*,
        cast(current_states.mrr_local * fx.unit_rate as decimal(38, 22)) as current_mrr,
        cast(current_states.trial_mrr_local * fx.unit_rate as decimal(38, 22)) as current_trial_mrr
    from current_states
    cross join as_of
    left join fx
        on current_states.currency = fx.currency
        and fx.rate_date = as_of.as_of_date

),

final as (

    select
        subscriptions.subscription_id,
        subscriptions.customer_id,
        current_values.offer_id,
        subscriptions.initial_offer_id,
        offers.offer_type,
        current_values.billing_period,
        subscriptions.platform,
        current_values.currency,
        current_values.price_minor,
        current_values.discount_minor,
        subscriptions.started_at,
        subscriptions.trial_ends_at,
        subscriptions.first_paid_at,
        subscriptions.cancel_requested_at,
        subscriptions.cancel_reason,
        subscriptions.cancel_initiated_by,
        subscriptions.cancel_effective_at,
        subscriptions.cancel_requested_at is not null and subscriptions.ended_at is null as is_cancel_pending,
        subscriptions.ended_at,
        subscriptions.ended_reason,
        subscriptions.churn_type,
        coalesce(current_values.current_mrr, 0) as current_mrr,
        coalesce(current_values.current_trial_mrr, 0) as current_trial_mrr,
        case
            when not coalesce(current_values.is_live, false) then 'ended'
            when current_values.is_paused then 'paused'
            when current_values.is_trial then 'trialing'
            else 'active'
        end as status
    from subscriptions
    left join current_values on subscriptions.subscription_id = current_values.subscription_id
    left join offers on current_values.offer_id = offers.offer_id

)

select * from final
