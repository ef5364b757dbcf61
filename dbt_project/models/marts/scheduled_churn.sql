-- One row per subscription with a cancellation pending at the as-of date (METRICS.md: MRR runs until
-- access ends, a pending cancellation is *scheduled churn*): requested, not withdrawn by
-- subscription.reactivated, and the subscription has not ended. MRR at stake = the subscription's
-- current MRR (as-of date, that day's rate). `is_last_live_subscription`: the customer has no other
-- live subscription without a pending cancellation, so the customer churns when it takes effect.
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

subscriptions as (

    select * from {{ ref('fct_subscriptions') }}

),

pending as (

    select * from subscriptions
    where is_cancel_pending

),

customer_live_not_pending as (

    select customer_id, count(*) as other_live_subscriptions
    from subscriptions
    where status <> 'ended'
      and not is_cancel_pending
    group by customer_id

),

final as (

    select
        pending.subscription_id,
        pending.customer_id,
        pending.offer_id,
        pending.platform,
        pending.status,
        pending.cancel_requested_at as requested_at,
        pending.cancel_effective_at as effective_at,
        coalesce(pending.cancel_reason, 'unknown') as reason,
        coalesce(pending.cancel_initiated_by, 'unknown') as initiated_by,
        cast({{ dbt.datediff('as_of.as_of_date', 'cast(pending.cancel_effective_at as date)', 'day') }} as integer)
            as days_until_effective,
        coalesce(customer_live_not_pending.other_live_subscriptions, 0) = 0 as is_last_live_subscription,
        pending.current_mrr as mrr_at_stake
    from pending
    cross join as_of
    left join customer_live_not_pending on pending.customer_id = customer_live_not_pending.customer_id

)

select * from final
