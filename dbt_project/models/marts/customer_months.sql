-- Point-in-time customer-month table for churn models. Grain: customer x month_end for every month end
-- (int_months; the as-of date for the as-of month) at which the customer had a live subscription
-- (trialing, paying or paused).
--
-- NO LEAKAGE: every feature of a row uses only events that occurred by the end of month_end (event
-- date <= month_end; "one second after month_end" is the next day and never counts):
--   subscription state (mrr, offer, billing_period, platform, currency, discount, trial / paused,
--     tenure, price changes)  int_subscription_states_pit: a change takes effect no earlier than the
--     day it occurred (a backdated subscription.changed / renewed counts from the day it was known);
--     states are joined to month ends by valid_from <= month_end < valid_to.
--   coupon_expiring_30d       the scheduled end of a coupon redeemed by month_end (its terms are known
--     at redemption), falling in (month_end, month_end + 30 days]
--   pending cancellation      the last of cancelled / reactivated / ended occurred by month_end
--     and days to its effective date (effective_at is known at the request)
--   in dunning                a failed renewal in the dunning window before month_end, not recovered by it
--   days to trial end         trial_ends_at of the start event of a subscription trialing at month_end
--   engagement, payments, support, past churns / reactivations and the churn labels: the
--     int_customer_months_* models (one per family, each with its no-leakage rule), joined by month
--     (zero / false / null where a customer-month has no row there)
-- LABELS (the only columns looking ahead): churned_within_Nd (int_customer_months_history_labels);
-- label_observable_Nd = month_end + N days <= the as-of date (when false the label is not yet known
-- and must not be used for training).
--
-- INCREMENTAL: a new batch rebuilds the rows of the customers with new events (every month) and
-- every customer's row of the as-of month: the SQL below in the scopes of build_scopes()
-- (macros/changed_customers.sql), 'recent' and 'changed' in an incremental run, 'all' in a full one. New
-- engagement and support events dated in the as-of month only change the as-of month: they do not
-- make their customer's earlier months rebuilt (tickets, CSAT and watch time only look back). The
-- labels of the other customers cannot change (no new movement), only whether they are observable
-- yet: the post-hook re-derives label_observable_Nd from the new as-of date where one was false.
{{ incremental_by_customer(
    rebuild_recent={'column': 'month', 'days': 0, 'forward_families': ['engagement', 'support']},
    post_hooks=["{{ refresh_label_observability() }}"],
) }}
{%- for scope in build_scopes() %}
{{ 'union all' if not loop.first }}
select * from (

with

as_of as (

    select * from {{ ref('int_as_of') }}

),

months as (

    select * from {{ ref('int_months') }}
    where true {{ months_in_scope(scope) }}

),

states as (

    select * from {{ ref('int_subscription_states_pit') }}
    where true {{ customers_in_scope(scope, 'customer_id') }}
      -- the recent months need the states live at their month ends and the price changes of the
      -- 90 days before; the history they summarise is in the *_on and previous_* columns
      {{ recent_rows_only(scope, "coalesce(valid_to, cast('9999-12-31' as date))", 91) }}

),

fx as (

    select * from {{ ref('int_fx_rates_daily') }}

),

offers as (

    select offer_id, offer_type
    from (
        select
            offer_id,
            offer_type,
            row_number() over (partition by offer_id order by published_at desc, event_id desc) as rn
        from {{ ref('stg_events__offers') }}
    ) as ranked
    where rn = 1

),

-- live subscriptions at each month end (range join, no calendar expansion)
subscription_month_ends as (

    select
        states.customer_id,
        months.month,
        months.month_end,
        states.subscription_id,
        states.offer_id,
        states.platform,
        states.currency,
        states.billing_period,
        states.is_paused,
        states.is_trial,
        coalesce(states.discount_minor, 0) > 0 and not states.is_trial as has_discount,
        states.mrr_local * fx.unit_rate as mrr,
        row_number() over (
            partition by states.customer_id, months.month
            order by states.mrr_local * fx.unit_rate desc, states.subscription_started_on desc, states.subscription_id desc
        ) as rank_in_customer
    from states
    inner join months
        on states.valid_from <= months.month_end
        and coalesce(states.valid_to, cast('9999-12-31' as date)) > months.month_end
    left join fx
        on states.currency = fx.currency
        and fx.rate_date = months.month_end
    where states.is_live

),

customer_firsts as (

    select
        customer_id,
        min(customer_first_live_on) as first_live_on,
        min(customer_first_paid_on) as first_paid_on
    from states
    group by customer_id

),

spine as (

    select
        customer_id,
        month,
        month_end,
        count(*) as live_subscriptions,
        sum(case when is_paused then 1 else 0 end) as paused_subscriptions,
        sum(case when is_trial then 1 else 0 end) as trialing_subscriptions,
        sum(mrr) as mrr,
        max(case when has_discount then 1 else 0 end) = 1 as has_discount,
        -- the primary subscription: highest MRR, then the latest started
        max(case when rank_in_customer = 1 then subscription_id end) as subscription_id,
        max(case when rank_in_customer = 1 then offer_id end) as offer_id,
        max(case when rank_in_customer = 1 then billing_period end) as billing_period,
        max(case when rank_in_customer = 1 then platform end) as platform,
        max(case when rank_in_customer = 1 then currency end) as currency
    from subscription_month_ends
    group by customer_id, month, month_end

),

-- price changes: a state whose monthly amount (net price, normalised) differs from the previous state
-- of the same subscription in the same currency; valid_from is the day the change was known
price_changes as (

    select
        customer_id,
        subscription_id,
        valid_from as changed_on,
        previous_monthly_amount_local as previous_amount,
        monthly_amount_local
    from states
    where previous_monthly_amount_local is not null
      and currency = previous_currency
      and monthly_amount_local <> previous_monthly_amount_local

),

price_change_features as (

    select
        customer_id,
        month,
        sum(case when monthly_amount_local > previous_amount then 1 else 0 end) as price_increases_90d,
        sum(case when monthly_amount_local < previous_amount then 1 else 0 end) as price_decreases_90d,
        max(case when rank_latest = 1 then
            cast(monthly_amount_local as double) / nullif(cast(previous_amount as double), 0) - 1
        end) as last_price_change_pct_90d
    from (
        select
            price_changes.*,
            months.month,
            row_number() over (
                partition by price_changes.customer_id, months.month
                order by price_changes.changed_on desc, price_changes.subscription_id desc
            ) as rank_latest
        from price_changes
        inner join months
            on price_changes.changed_on <= months.month_end
            and price_changes.changed_on > {{ dbt.dateadd('day', -90, 'months.month_end') }}
    ) as windowed
    group by customer_id, month

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

engagement as (

    select * from {{ ref('int_customer_months_engagement') }}
    where true {{ months_in_scope(scope) }} {{ customers_in_scope(scope, 'customer_id') }}

),

payments as (

    select * from {{ ref('int_customer_months_payments') }}
    where true {{ months_in_scope(scope) }} {{ customers_in_scope(scope, 'customer_id') }}

),

support as (

    select * from {{ ref('int_customer_months_support') }}
    where true {{ months_in_scope(scope) }} {{ customers_in_scope(scope, 'customer_id') }}

),

history_labels as (

    select * from {{ ref('int_customer_months_history_labels') }}
    where true {{ months_in_scope(scope) }} {{ customers_in_scope(scope, 'customer_id') }}

),

final as (

    select
        spine.customer_id,
        spine.month,
        spine.month_end,
        cast({{ dbt.datediff('customer_firsts.first_live_on', 'spine.month_end', 'day') }} as integer) as tenure_days,
        case when customer_firsts.first_paid_on <= spine.month_end
            then cast({{ dbt.datediff('customer_firsts.first_paid_on', 'spine.month_end', 'day') }} as integer)
        end as paid_tenure_days,
        spine.subscription_id,
        spine.offer_id,
        coalesce(offers.offer_type, 'unknown') as offer_type,
        spine.billing_period,
        spine.platform,
        spine.currency,
        cast(spine.live_subscriptions as integer) as live_subscriptions,
        cast(spine.paused_subscriptions as integer) as paused_subscriptions,
        cast(spine.trialing_subscriptions as integer) as trialing_subscriptions,
        cast(coalesce(spine.mrr, 0) as decimal(38, 22)) as mrr,
        cast(coalesce(price_change_features.price_increases_90d, 0) as integer) as price_increases_90d,
        cast(coalesce(price_change_features.price_decreases_90d, 0) as integer) as price_decreases_90d,
        price_change_features.last_price_change_pct_90d,
        spine.has_discount,
        coupon_features.customer_id is not null as coupon_expiring_30d,
        cast(coalesce(payments.failed_payments_30d, 0) as integer) as failed_payments_30d,
        cast(coalesce(payments.failed_payments_90d, 0) as integer) as failed_payments_90d,
        cast(coalesce(payments.recovered_payments_90d, 0) as integer) as recovered_payments_90d,
        dunning_features.customer_id is not null as in_dunning,
        {% for window in [30, 90] -%}
        cast(coalesce(support.tickets_{{ window }}d, 0) as integer) as tickets_{{ window }}d,
        {% for category in ['billing', 'technical'] -%}
        cast(coalesce(support.{{ category }}_tickets_{{ window }}d, 0) as integer) as {{ category }}_tickets_{{ window }}d,
        {% endfor -%}
        {% endfor -%}
        support.last_csat,
        cast(coalesce(engagement.minutes_watched_4w, 0) as decimal(38, 2)) as minutes_watched_4w,
        cast(coalesce(engagement.minutes_watched_prev_4w, 0) as decimal(38, 2)) as minutes_watched_prev_4w,
        cast(engagement.minutes_watched_4w as double)
            / nullif(cast(engagement.minutes_watched_prev_4w as double), 0) as minutes_watched_trend,
        cast(coalesce(engagement.sessions_4w, 0) as integer) as sessions_4w,
        cancellation_features.customer_id is not null as has_pending_cancellation,
        cast(cancellation_features.days_to_cancellation as integer) as days_to_cancellation,
        cast(trial_features.days_to_trial_end as integer) as days_to_trial_end,
        cast(coalesce(history_labels.past_churns, 0) as integer) as past_churns,
        cast(coalesce(history_labels.past_reactivations, 0) as integer) as past_reactivations,
        {% for horizon in [30, 60, 90] -%}
        coalesce(history_labels.churned_within_{{ horizon }}d, false) as churned_within_{{ horizon }}d,
        {{ dbt.dateadd('day', horizon, 'spine.month_end') }} <= as_of.as_of_date as label_observable_{{ horizon }}d{{ ',' if not loop.last }}
        {% endfor %}
    from spine
    cross join as_of
    inner join customer_firsts on spine.customer_id = customer_firsts.customer_id
    left join offers on spine.offer_id = offers.offer_id
    left join price_change_features
        on spine.customer_id = price_change_features.customer_id and spine.month = price_change_features.month
    left join coupon_features
        on spine.customer_id = coupon_features.customer_id and spine.month = coupon_features.month
    left join engagement
        on spine.customer_id = engagement.customer_id and spine.month = engagement.month
    left join payments
        on spine.customer_id = payments.customer_id and spine.month = payments.month
    left join support
        on spine.customer_id = support.customer_id and spine.month = support.month
    left join cancellation_features
        on spine.customer_id = cancellation_features.customer_id and spine.month = cancellation_features.month
    left join dunning_features
        on spine.customer_id = dunning_features.customer_id and spine.month = dunning_features.month
    left join trial_features
        on spine.customer_id = trial_features.customer_id and spine.month = trial_features.month
    left join history_labels
        on spine.customer_id = history_labels.customer_id and spine.month = history_labels.month

)

select * from final

) as {{ scope }}_rows
{%- endfor %}
