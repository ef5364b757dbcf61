{{ incremental_by_customer() }}
-- One row per event of a customer, for the Subscriber 360 page: when, what (event type and family),
-- a short human-readable summary, the subscription / offer / ticket it concerns and its money
-- (amount_minor + currency as sent, and `amount` in the reporting currency at the event day's
-- rate, exact decimal). Pseudonymous ids and business attributes only: no personal data (the
-- events carry none; the attributes of an erased customer are already nulled in staging).
--
-- ENGAGEMENT is left out: engagement.activity reports are most of the events (one per customer and
-- week) and their trend is in customer_months (minutes watched per month). Leaving them out also
-- keeps the model incremental: a weekly engagement report does not make its customer "changed"
-- (event_families() only counts the families this model reads).
-- Events after the as-of date are left out, like everywhere else.
--
-- ORDER: built ordered by customer_id, so that DuckDB's zone maps (min/max per row group) let a
-- lookup of one customer (`where customer_id = ?`) skip almost every row group. An incremental run
-- appends the rebuilt customers' rows at the end (ordered among themselves); a full refresh
-- restores a single ordered run.
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

fx as (

    select * from {{ ref('int_fx_rates_daily') }}

),

customers as (

    select * from {{ ref('stg_events__customers') }}
    where customer_id is not null {{ changed_customers_only('customer_id') }}

),

subscriptions as (

    select * from {{ ref('stg_events__subscriptions') }}
    where customer_id is not null {{ changed_customers_only('customer_id') }}

),

payments as (

    select * from {{ ref('stg_events__payments') }}
    where customer_id is not null {{ changed_customers_only('customer_id') }}

),

purchases as (

    select * from {{ ref('stg_events__purchases') }}
    where customer_id is not null {{ changed_customers_only('customer_id') }}

),

coupons as (

    select * from {{ ref('stg_events__coupons') }}
    where customer_id is not null {{ changed_customers_only('customer_id') }}

),

retention as (

    select * from {{ ref('stg_events__retention_actions') }}
    where customer_id is not null {{ changed_customers_only('customer_id') }}

),

support as (

    select * from {{ ref('stg_events__support') }}
    where customer_id is not null {{ changed_customers_only('customer_id') }}

),

events as (

    select
        customer_id, occurred_at, event_id, event_type,
        case event_type
            when 'customer.created' then 'Signed up'
                || coalesce(' on ' || signup_platform, '')
                || coalesce(' in ' || country, '')
                || coalesce(' via ' || acquisition_channel, '')
            when 'customer.updated' then 'Profile updated'
                || coalesce(' (country ' || country || ')', '')
            when 'customer.erased' then 'Personal data erased (right to erasure)'
            else event_type
        end as summary,
        cast(null as varchar) as subscription_id,
        cast(null as varchar) as offer_id,
        cast(null as varchar) as ticket_id,
        cast(null as varchar) as detail,
        cast(null as bigint) as amount_minor,
        cast(null as varchar) as currency
    from customers

    union all

    select
        customer_id, occurred_at, event_id, event_type,
        case event_type
            when 'subscription.started' then 'Subscription started'
                || coalesce(': offer ' || offer_id, '')
                || coalesce(' (' || billing_period || ')', '')
                || coalesce(' on ' || platform, '')
                || coalesce(', trial until ' || cast(cast(trial_ends_at as date) as varchar), '')
            when 'subscription.renewed' then 'Renewed'
                || coalesce(' until ' || cast(cast(coalesce(period_end, current_period_end) as date) as varchar), '')
            when 'subscription.changed' then 'Plan changed'
                || coalesce(' to offer ' || offer_id, '')
                || coalesce(' (' || billing_period || ')', '')
                || coalesce(', effective ' || cast(cast(effective_at as date) as varchar), '')
            when 'subscription.cancelled' then 'Cancellation requested'
                || coalesce(' by ' || initiated_by, '')
                || coalesce(' (' || cancel_reason || ')', '')
                || coalesce(', effective ' || cast(cast(effective_at as date) as varchar), '')
            when 'subscription.reactivated' then 'Cancellation withdrawn'
            when 'subscription.paused' then 'Paused'
                || coalesce(' until ' || cast(cast(resume_at as date) as varchar), '')
            when 'subscription.resumed' then 'Resumed'
            when 'subscription.ended' then 'Subscription ended'
                || coalesce(' (' || ended_reason || ')', '')
            else event_type
        end as summary,
        subscription_id,
        offer_id,
        cast(null as varchar) as ticket_id,
        case event_type
            when 'subscription.cancelled' then cancel_reason
            when 'subscription.ended' then ended_reason
        end as detail,
        case when event_type in ('subscription.started', 'subscription.changed', 'subscription.renewed')
            then price_minor - coalesce(discount_minor, 0)
        end as amount_minor,
        case when event_type in ('subscription.started', 'subscription.changed', 'subscription.renewed')
                 and price_minor is not null
            then currency
        end as currency
    from subscriptions

    union all

    select
        customer_id, occurred_at, event_id, event_type,
        case event_type
            when 'payment.succeeded' then 'Payment succeeded' || coalesce(' (' || provider || ')', '')
            when 'payment.failed' then 'Payment failed'
                || coalesce(' (' || failure_code || ')', '')
                || coalesce(', attempt ' || cast(attempt as varchar), '')
            when 'payment.refunded' then 'Refunded' || coalesce(' (' || reason || ')', '')
            when 'payment.chargeback' then 'Chargeback' || coalesce(' (' || reason || ')', '')
            else event_type
        end as summary,
        subscription_id,
        cast(null as varchar) as offer_id,
        cast(null as varchar) as ticket_id,
        case event_type
            when 'payment.failed' then failure_code
            when 'payment.refunded' then reason
            when 'payment.chargeback' then reason
        end as detail,
        amount_minor,
        case when amount_minor is not null then currency end as currency
    from payments

    union all

    select
        customer_id, purchased_at as occurred_at, event_id, 'purchase.completed' as event_type,
        'Purchased'
            || coalesce(' ' || offer_type, '')
            || coalesce(': offer ' || offer_id, '')
            || coalesce(', access until ' || cast(cast(access_until as date) as varchar), '')
            as summary,
        cast(null as varchar) as subscription_id,
        offer_id,
        cast(null as varchar) as ticket_id,
        offer_type as detail,
        amount_minor,
        case when amount_minor is not null then currency end as currency
    from purchases

    union all

    select
        customer_id, redeemed_at as occurred_at, event_id, 'coupon.redeemed' as event_type,
        'Coupon redeemed'
            || coalesce(': ' || coupon_id, '')
            -- 50.0000 -> 50, 12.5000 -> 12.5 (the decimal always has a point)
            || coalesce(' (' || discount_type
                || coalesce(' ' || rtrim(rtrim(cast(discount_value as varchar), '0'), '.'), '')
                || coalesce(', ' || duration, '') || ')', '')
            as summary,
        subscription_id,
        cast(null as varchar) as offer_id,
        cast(null as varchar) as ticket_id,
        coupon_id as detail,
        cast(null as bigint) as amount_minor,
        cast(null as varchar) as currency
    from coupons

    union all

    select
        customer_id, action_at as occurred_at, event_id, 'retention.action_taken' as event_type,
        'Retention action'
            || coalesce(': ' || action, '')
            || coalesce(' (campaign ' || campaign_id || coalesce(', ' || experiment_group, '') || ')', '')
            as summary,
        cast(null as varchar) as subscription_id,
        cast(null as varchar) as offer_id,
        cast(null as varchar) as ticket_id,
        action as detail,
        cast(null as bigint) as amount_minor,
        cast(null as varchar) as currency
    from retention

    union all

    select
        customer_id, occurred_at, event_id, event_type,
        case event_type
            when 'support.ticket_opened' then 'Ticket opened'
                || coalesce(': ' || category, '')
                || coalesce(' via ' || channel, '')
                || coalesce(' (' || priority || ' priority)', '')
            when 'support.ticket_resolved' then 'Ticket resolved'
                || coalesce(' in ' || cast(resolution_minutes as varchar) || ' min', '')
                || coalesce(', CSAT ' || cast(csat as varchar) || '/5', '')
            else event_type
        end as summary,
        cast(null as varchar) as subscription_id,
        cast(null as varchar) as offer_id,
        ticket_id,
        case when event_type = 'support.ticket_opened' then category end as detail,
        cast(null as bigint) as amount_minor,
        cast(null as varchar) as currency
    from support

),

final as (

    select
        events.customer_id,
        events.occurred_at,
        events.event_id,
        events.event_type,
        {{ dbt.split_part('events.event_type', "'.'", 1) }} as event_family,
        events.summary,
        events.subscription_id,
        events.offer_id,
        events.ticket_id,
        events.detail,
        events.amount_minor,
        events.currency,
        cast(events.amount_minor * fx.unit_rate as decimal(38, 16)) as amount
    from events
    cross join as_of
    left join fx
        on fx.currency = events.currency
        and fx.rate_date = cast(events.occurred_at as date)
    where cast(events.occurred_at as date) <= as_of.as_of_date

)

select * from final
order by customer_id, occurred_at, event_id
