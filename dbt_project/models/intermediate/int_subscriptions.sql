-- One row per subscription: its lifecycle (start, trial, first paid day, the cancellation pending at
-- the end or now, end) and churn type. Involuntary (METRICS.md): the subscription ended for
-- `payment_failed` and no customer-initiated cancellation was requested before the end (a request
-- withdrawn by `subscription.reactivated` no longer counts); cancelling during dunning is voluntary.
-- Incremental by customer (macros/changed_customers.sql): the as-of date only matters through the
-- trial end, which is a scheduled change.
{{ incremental_by_customer() }}
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

events as (

    {{ subscription_events_to_as_of() }}

),

starts as (

    select *
    from (
        select
            events.*,
            row_number() over (partition by subscription_id order by occurred_at, event_id) as rn
        from events
        where event_type = 'subscription.started'
    ) as ranked
    where rn = 1

),

ends as (

    select *
    from (
        select
            events.*,
            row_number() over (partition by subscription_id order by occurred_at, event_id) as rn
        from events
        where event_type = 'subscription.ended'
    ) as ranked
    where rn = 1

),

-- cancellation requests and withdrawals up to the end (or now)
cancellation_events as (

    select
        events.subscription_id,
        events.event_type,
        events.occurred_at,
        events.event_id,
        events.cancel_reason,
        events.initiated_by,
        events.effective_at
    from events
    left join ends on events.subscription_id = ends.subscription_id
    where events.event_type in ('subscription.cancelled', 'subscription.reactivated')
      and (ends.occurred_at is null or events.occurred_at <= ends.occurred_at)

),

last_withdrawal as (

    select subscription_id, max(occurred_at) as withdrawn_at
    from cancellation_events
    where event_type = 'subscription.reactivated'
    group by subscription_id

),

pending_cancellations as (

    select
        cancellation_events.*,
        row_number() over (
            partition by cancellation_events.subscription_id
            order by cancellation_events.occurred_at desc, cancellation_events.event_id desc
        ) as rn
    from cancellation_events
    left join last_withdrawal on cancellation_events.subscription_id = last_withdrawal.subscription_id
    where cancellation_events.event_type = 'subscription.cancelled'
      and (last_withdrawal.withdrawn_at is null or cancellation_events.occurred_at > last_withdrawal.withdrawn_at)

),

latest_pending as (

    select * from pending_cancellations where rn = 1

),

customer_cancellations as (

    select subscription_id, min(occurred_at) as first_customer_cancel_at
    from pending_cancellations
    where initiated_by = 'customer'
    group by subscription_id

),

joined as (

    select
        starts.subscription_id,
        starts.customer_id,
        starts.offer_id as initial_offer_id,
        starts.platform,
        starts.occurred_at as started_at,
        starts.trial_ends_at,
        case
            when starts.trial_ends_at is not null
                and cast(starts.trial_ends_at as date) > cast(starts.occurred_at as date)
                then starts.trial_ends_at
            else starts.occurred_at
        end as first_paid_candidate_at,
        latest_pending.occurred_at as cancel_requested_at,
        latest_pending.cancel_reason,
        latest_pending.initiated_by as cancel_initiated_by,
        latest_pending.effective_at as cancel_effective_at,
        ends.occurred_at as ended_at,
        ends.ended_reason,
        customer_cancellations.first_customer_cancel_at
    from starts
    left join ends on starts.subscription_id = ends.subscription_id
    left join latest_pending on starts.subscription_id = latest_pending.subscription_id
    left join customer_cancellations on starts.subscription_id = customer_cancellations.subscription_id

),

final as (

    select
        joined.subscription_id,
        joined.customer_id,
        joined.initial_offer_id,
        joined.platform,
        joined.started_at,
        joined.trial_ends_at,
        -- the first paid period starts at the trial end (or the start) if access lasted until that day
        case
            when cast(joined.first_paid_candidate_at as date) <= as_of.as_of_date
                and (joined.ended_at is null
                    or cast(joined.ended_at as date) > cast(joined.first_paid_candidate_at as date))
                then joined.first_paid_candidate_at
        end as first_paid_at,
        joined.cancel_requested_at,
        joined.cancel_reason,
        joined.cancel_initiated_by,
        joined.cancel_effective_at,
        joined.ended_at,
        joined.ended_reason,
        case
            when joined.ended_at is null then null
            when joined.ended_reason = 'payment_failed' and joined.first_customer_cancel_at is null
                then 'involuntary'
            else 'voluntary'
        end as churn_type
    from joined
    cross join as_of

)

select * from final
