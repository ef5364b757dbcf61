-- Customer x month end (int_months) at which something is scheduled for a live subscription
-- (int_subscription_month_ends), each known by the end of month_end:
--   coupon_expiring_30d       the scheduled end of a coupon redeemed by month_end (its terms are known
--     at redemption), falling in (month_end, month_end + 30 days]
--   pending cancellation      the last of cancelled / reactivated / ended occurred by month_end
--     and days to its effective date (effective_at is known at the request)
--   in dunning                a failed renewal in the dunning window before month_end, not recovered by it
--   days to trial end         trial_ends_at of the start event of a subscription trialing at month_end
-- Read by customer_months (false / null where a customer-month has no row here).
-- INCREMENTAL: the changed customers' rows and every customer's as-of month (build_scopes(),
-- macros/changed_customers.sql).
{{ incremental_by_customer(rebuild_recent={'column': 'month', 'days': 0}) }}
{%- for scope in build_scopes() %}
{{ 'union all' if not loop.first }}
select * from (

with

subscription_month_ends as (

    select * from {{ ref('int_subscription_month_ends') }}
    where true {{ months_in_scope(scope) }} {{ customers_in_scope(scope, 'customer_id') }}

),

coupon_features as (

    select distinct
        subscription_month_ends.customer_id,
        subscription_month_ends.month
    from {{ ref('int_coupon_redemptions') }} as redemptions
    inner join subscription_month_ends
        on redemptions.subscription_id = subscription_month_ends.subscription_id
        and cast(redemptions.redeemed_at as date) <= subscription_month_ends.month_end
        and redemptions.coupon_expires_on > subscription_month_ends.month_end
        and redemptions.coupon_expires_on <= {{ dbt.dateadd('day', 30, 'subscription_month_ends.month_end') }}

),

-- pending cancellation: state at the end of each day from cancelled / reactivated / ended
cancellation_ranges as (

    select
        subscription_id,
        changed_on,
        is_pending,
        effective_on,
        lead(changed_on) over (partition by subscription_id order by changed_on) as next_changed_on
    from (
        select
            subscription_id,
            cast(occurred_at as date) as changed_on,
            event_type = 'subscription.cancelled' as is_pending,
            -- when the requested cancellation takes effect (known at the request)
            case when event_type = 'subscription.cancelled' then cast(effective_at as date) end as effective_on,
            row_number() over (
                partition by subscription_id, cast(occurred_at as date) order by occurred_at desc, event_id desc
            ) as rank_in_day
        from {{ ref('stg_events__subscriptions') }}
        where event_type in ('subscription.cancelled', 'subscription.reactivated', 'subscription.ended')
          {{ customers_in_scope(scope, 'customer_id') }}
    ) as daily
    where rank_in_day = 1

),

cancellation_features as (

    select
        subscription_month_ends.customer_id,
        subscription_month_ends.month,
        min({{ dbt.datediff('subscription_month_ends.month_end', 'cancellation_ranges.effective_on', 'day') }}) as days_to_cancellation
    from cancellation_ranges
    inner join subscription_month_ends
        on cancellation_ranges.subscription_id = subscription_month_ends.subscription_id
        and cancellation_ranges.changed_on <= subscription_month_ends.month_end
        and coalesce(cancellation_ranges.next_changed_on, cast('9999-12-31' as date)) > subscription_month_ends.month_end
    where cancellation_ranges.is_pending
    group by subscription_month_ends.customer_id, subscription_month_ends.month

),

-- a renewal payment failed within the dunning window before month_end and not recovered by then:
-- the subscription is in dunning at month_end
dunning_features as (

    select distinct subscription_month_ends.customer_id, subscription_month_ends.month
    from {{ ref('int_payment_failures') }} as failures
    inner join subscription_month_ends
        on failures.subscription_id = subscription_month_ends.subscription_id
        and cast(failures.failed_at as date) <= subscription_month_ends.month_end
        and cast(failures.failed_at as date) > {{ dbt.dateadd('day', -var('dunning_window_days'), 'subscription_month_ends.month_end') }}
        and (failures.recovered_at is null or cast(failures.recovered_at as date) > subscription_month_ends.month_end)
    where true {{ customers_in_scope(scope, 'failures.customer_id') }}

),

-- the scheduled end of the trial of each trialing subscription (set by its start event)
trial_features as (

    select
        subscription_month_ends.customer_id,
        subscription_month_ends.month,
        min({{ dbt.datediff('subscription_month_ends.month_end', 'cast(starts.trial_ends_at as date)', 'day') }}) as days_to_trial_end
    from subscription_month_ends
    inner join {{ ref('stg_events__subscriptions') }} as starts
        on starts.subscription_id = subscription_month_ends.subscription_id
        and starts.event_type = 'subscription.started'
        and cast(starts.occurred_at as date) <= subscription_month_ends.month_end
    where subscription_month_ends.is_trial
      and starts.trial_ends_at is not null
      {{ customers_in_scope(scope, 'starts.customer_id') }}
    group by subscription_month_ends.customer_id, subscription_month_ends.month

),

customer_months as (

    select customer_id, month from coupon_features
    union
    select customer_id, month from cancellation_features
    union
    select customer_id, month from dunning_features
    union
    select customer_id, month from trial_features

),

final as (

    select
        customer_months.customer_id,
        customer_months.month,
        coupon_features.customer_id is not null as coupon_expiring_30d,
        dunning_features.customer_id is not null as in_dunning,
        cancellation_features.customer_id is not null as has_pending_cancellation,
        cast(cancellation_features.days_to_cancellation as integer) as days_to_cancellation,
        cast(trial_features.days_to_trial_end as integer) as days_to_trial_end
    from customer_months
    left join coupon_features using (customer_id, month)
    left join cancellation_features using (customer_id, month)
    left join dunning_features using (customer_id, month)
    left join trial_features using (customer_id, month)

)

select * from final

) as {{ scope }}_rows
{%- endfor %}
