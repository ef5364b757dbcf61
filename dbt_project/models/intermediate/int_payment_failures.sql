-- One row per failed renewal (METRICS.md "Payment recovery"): a payment.failed with attempt = 1 on a
-- subscription (a first failure; retries are attempts 2, 3, ...). It is recovered when a successful
-- payment for the same subscription occurs after it and at most `dunning_window_days` (default 14)
-- days later (inclusive). The subscription's MRR "at the time" is its MRR on the failure day, priced
-- at that day's rate (reporting currency, exact). A customer-initiated cancellation requested between
-- the failure and the recovery (or the end of the window) is a cancellation during dunning.
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

payments as (

    select payments.*
    from {{ ref('stg_events__payments') }} as payments
    cross join as_of
    where payments.subscription_id is not null
      and cast(payments.occurred_at as date) <= as_of.as_of_date

),

states as (

    select * from {{ ref('int_subscription_states') }}

),

fx as (

    select * from {{ ref('int_fx_rates_daily') }}

),

cancellations as (

    select subscription_id, occurred_at
    from {{ ref('stg_events__subscriptions') }}
    where event_type = 'subscription.cancelled'
      and initiated_by = 'customer'

),

failures as (

    select
        event_id as failure_id,
        payment_id,
        subscription_id,
        customer_id,
        occurred_at as failed_at,
        coalesce(failure_code, 'unknown') as failure_code,
        coalesce(provider, 'unknown') as provider,
        {{ dbt.dateadd('day', var('dunning_window_days') | int, 'occurred_at') }} as window_ends_at
    from payments
    where payment_event = 'failed'
      and attempt = 1

),

recoveries as (

    select
        failures.failure_id,
        min(successes.occurred_at) as recovered_at
    from failures
    inner join payments as successes
        on failures.subscription_id = successes.subscription_id
        and successes.payment_event = 'succeeded'
        and successes.occurred_at > failures.failed_at
        and successes.occurred_at <= failures.window_ends_at
    group by failures.failure_id

),

dunning_cancellations as (

    select
        failures.failure_id,
        min(cancellations.occurred_at) as cancelled_at
    from failures
    left join recoveries on failures.failure_id = recoveries.failure_id
    inner join cancellations
        on failures.subscription_id = cancellations.subscription_id
        and cancellations.occurred_at >= failures.failed_at
        and cancellations.occurred_at <= coalesce(recoveries.recovered_at, failures.window_ends_at)
    group by failures.failure_id

),

at_the_time as (

    select
        failures.failure_id,
        cast(states.mrr_local * fx.unit_rate as decimal(38, 22)) as mrr
    from failures
    inner join states
        on failures.subscription_id = states.subscription_id
        and states.valid_from <= cast(failures.failed_at as date)
        and (states.valid_to is null or states.valid_to > cast(failures.failed_at as date))
    left join fx
        on states.currency = fx.currency
        and fx.rate_date = cast(failures.failed_at as date)

),

final as (

    select
        failures.failure_id,
        failures.payment_id,
        failures.subscription_id,
        failures.customer_id,
        failures.failed_at,
        cast({{ dbt.date_trunc('month', 'failures.failed_at') }} as date) as failure_month,
        failures.failure_code,
        failures.provider,
        failures.window_ends_at,
        recoveries.recovered_at,
        recoveries.recovered_at is not null as is_recovered,
        dunning_cancellations.cancelled_at is not null as is_cancelled_during_dunning,
        recoveries.recovered_at is null
            and cast(failures.window_ends_at as date) > as_of.as_of_date as is_window_open,
        cast(coalesce(at_the_time.mrr, 0) as decimal(38, 22)) as mrr
    from failures
    cross join as_of
    left join recoveries on failures.failure_id = recoveries.failure_id
    left join dunning_cancellations on failures.failure_id = dunning_cancellations.failure_id
    left join at_the_time on failures.failure_id = at_the_time.failure_id

)

select * from final
