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
--   engagement                int_customer_engagement_weekly is keyed by the week AND month of
--     occurred_at, so rows with month <= the row's month hold exactly the activity reported by
--     month_end; windows are calendar weeks (Monday) ending with the week containing month_end
--   payments / tickets / CSAT events with occurred_at date in (month_end - N days, month_end];
--     a recovery counts when its successful payment occurred by month_end
--   pending cancellation      the last of cancelled / reactivated / ended occurred by month_end
--     and days to its effective date (effective_at is known at the request)
--   in dunning                a failed renewal in the dunning window before month_end, not recovered by it
--   days to trial end         trial_ends_at of the start event of a subscription trialing at month_end
--   past churns / reactivations  fct_mrr_movements dated <= month_end
-- LABELS (the only columns looking ahead): churned_within_Nd = a customer `churn` movement in
-- (month_end, month_end + N days]; label_observable_Nd = month_end + N days <= the as-of date (when
-- false the label is not yet known and must not be used for training).
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

engagement_features as (

    select
        weekly.customer_id,
        months.month,
        sum(case when weekly.week_start >= {{ dbt.dateadd('day', -21, dbt.date_trunc('week', 'months.month_end')) }}
                 then weekly.minutes_watched else 0 end) as minutes_watched_4w,
        sum(case when weekly.week_start < {{ dbt.dateadd('day', -21, dbt.date_trunc('week', 'months.month_end')) }}
                 then weekly.minutes_watched else 0 end) as minutes_watched_prev_4w,
        sum(case when weekly.week_start >= {{ dbt.dateadd('day', -21, dbt.date_trunc('week', 'months.month_end')) }}
                 then weekly.sessions else 0 end) as sessions_4w
    from {{ ref('int_customer_engagement_weekly') }} as weekly
    -- a week row can only count for the month ends of its month and the two after it: an equi-join
    -- on those candidate months instead of a range join of the large weekly table to every month
    cross join (select 0 as n union all select 1 union all select 2) as offsets
    inner join months
        on months.month = cast({{ dbt.dateadd('month', 'offsets.n', 'weekly.month') }} as date)
    where weekly.week_start <= {{ dbt.date_trunc('week', 'months.month_end') }}
      and weekly.week_start >= {{ dbt.dateadd('day', -49, dbt.date_trunc('week', 'months.month_end')) }}
      {{ customers_in_scope(scope, 'weekly.customer_id') }}
      {{ recent_rows_only(scope, 'weekly.week_start', 56) }}
    group by weekly.customer_id, months.month

),

payment_features as (

    select
        payments.customer_id,
        months.month,
        sum(case when cast(payments.occurred_at as date) > {{ dbt.dateadd('day', -30, 'months.month_end') }} then 1 else 0 end)
            as failed_payments_30d,
        count(*) as failed_payments_90d
    from {{ ref('stg_events__payments') }} as payments
    inner join months
        on cast(payments.occurred_at as date) <= months.month_end
        and cast(payments.occurred_at as date) > {{ dbt.dateadd('day', -90, 'months.month_end') }}
    where payments.payment_event = 'failed'
      {{ customers_in_scope(scope, 'payments.customer_id') }}
      {{ recent_rows_only(scope, 'payments.occurred_at', 91) }}
    group by payments.customer_id, months.month

),

recovery_features as (

    select
        failures.customer_id,
        months.month,
        count(*) as recovered_payments_90d
    from {{ ref('int_payment_failures') }} as failures
    inner join months
        on cast(failures.recovered_at as date) <= months.month_end
        and cast(failures.recovered_at as date) > {{ dbt.dateadd('day', -90, 'months.month_end') }}
    where failures.is_recovered
      {{ customers_in_scope(scope, 'failures.customer_id') }}
      {{ recent_rows_only(scope, 'failures.recovered_at', 91) }}
    group by failures.customer_id, months.month

),

support as (

    select * from {{ ref('stg_events__support') }}
    where true {{ customers_in_scope(scope, 'customer_id') }}

),

ticket_features as (

    select
        support.customer_id,
        months.month,
        sum(case when cast(support.occurred_at as date) > {{ dbt.dateadd('day', -30, 'months.month_end') }} then 1 else 0 end)
            as tickets_30d,
        count(*) as tickets_90d,
        {% for window in [30, 90] -%}
        {% for category in ['billing', 'technical'] -%}
        sum(case when cast(support.occurred_at as date) > {{ dbt.dateadd('day', -window, 'months.month_end') }}
                  and support.category = '{{ category }}' then 1 else 0 end) as {{ category }}_tickets_{{ window }}d{{ ',' if not loop.last }}
        {% endfor -%}{{ ',' if not loop.last }}
        {% endfor %}
    from support
    inner join months
        on cast(support.occurred_at as date) <= months.month_end
        and cast(support.occurred_at as date) > {{ dbt.dateadd('day', -90, 'months.month_end') }}
    where support.event_type = 'support.ticket_opened'
      {{ recent_rows_only(scope, 'support.occurred_at', 91) }}
    group by support.customer_id, months.month

),

-- the latest CSAT known, valid from its day until the next one
csat_ranges as (

    select
        customer_id,
        csat,
        resolved_on,
        lead(resolved_on) over (partition by customer_id order by resolved_on) as next_resolved_on
    from (
        select
            customer_id,
            cast(occurred_at as date) as resolved_on,
            csat,
            row_number() over (
                partition by customer_id, cast(occurred_at as date) order by occurred_at desc, event_id desc
            ) as rank_in_day
        from support
        where event_type = 'support.ticket_resolved'
          and csat is not null
    ) as daily
    where rank_in_day = 1

),

csat_features as (

    select csat_ranges.customer_id, months.month, csat_ranges.csat as last_csat
    from csat_ranges
    inner join months
        on csat_ranges.resolved_on <= months.month_end
        and coalesce(csat_ranges.next_resolved_on, cast('9999-12-31' as date)) > months.month_end

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

movements as (

    select * from {{ ref('fct_mrr_movements') }}
    where movement_type in ('churn', 'reactivation')
      {{ customers_in_scope(scope, 'customer_id') }}

),

-- running counts of past churns / reactivations, valid from the movement day to the next one
movement_ranges as (

    select
        customer_id,
        movement_date,
        lead(movement_date) over (partition by customer_id order by movement_date) as next_movement_date,
        sum(churns) over running as past_churns,
        sum(reactivations) over running as past_reactivations
    from (
        select
            customer_id,
            movement_date,
            sum(case when movement_type = 'churn' then 1 else 0 end) as churns,
            sum(case when movement_type = 'reactivation' then 1 else 0 end) as reactivations
        from movements
        group by customer_id, movement_date
    ) as daily
    window running as (partition by customer_id order by movement_date rows between unbounded preceding and current row)

),

history_features as (

    select movement_ranges.customer_id, months.month, movement_ranges.past_churns, movement_ranges.past_reactivations
    from movement_ranges
    inner join months
        on movement_ranges.movement_date <= months.month_end
        and coalesce(movement_ranges.next_movement_date, cast('9999-12-31' as date)) > months.month_end

),

labels as (

    select
        movements.customer_id,
        months.month,
        min({{ dbt.datediff('months.month_end', 'movements.movement_date', 'day') }}) as days_to_churn
    from movements
    inner join months
        on movements.movement_date > months.month_end
        and movements.movement_date <= {{ dbt.dateadd('day', 90, 'months.month_end') }}
    where movements.movement_type = 'churn'
    group by movements.customer_id, months.month

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
        cast(coalesce(payment_features.failed_payments_30d, 0) as integer) as failed_payments_30d,
        cast(coalesce(payment_features.failed_payments_90d, 0) as integer) as failed_payments_90d,
        cast(coalesce(recovery_features.recovered_payments_90d, 0) as integer) as recovered_payments_90d,
        dunning_features.customer_id is not null as in_dunning,
        {% for window in [30, 90] -%}
        cast(coalesce(ticket_features.tickets_{{ window }}d, 0) as integer) as tickets_{{ window }}d,
        {% for category in ['billing', 'technical'] -%}
        cast(coalesce(ticket_features.{{ category }}_tickets_{{ window }}d, 0) as integer) as {{ category }}_tickets_{{ window }}d,
        {% endfor -%}
        {% endfor -%}
        csat_features.last_csat,
        cast(coalesce(engagement_features.minutes_watched_4w, 0) as decimal(38, 2)) as minutes_watched_4w,
        cast(coalesce(engagement_features.minutes_watched_prev_4w, 0) as decimal(38, 2)) as minutes_watched_prev_4w,
        cast(engagement_features.minutes_watched_4w as double)
            / nullif(cast(engagement_features.minutes_watched_prev_4w as double), 0) as minutes_watched_trend,
        cast(coalesce(engagement_features.sessions_4w, 0) as integer) as sessions_4w,
        cancellation_features.customer_id is not null as has_pending_cancellation,
        cast(cancellation_features.days_to_cancellation as integer) as days_to_cancellation,
        cast(trial_features.days_to_trial_end as integer) as days_to_trial_end,
        cast(coalesce(history_features.past_churns, 0) as integer) as past_churns,
        cast(coalesce(history_features.past_reactivations, 0) as integer) as past_reactivations,
        {% for horizon in [30, 60, 90] -%}
        coalesce(labels.days_to_churn <= {{ horizon }}, false) as churned_within_{{ horizon }}d,
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
    left join engagement_features
        on spine.customer_id = engagement_features.customer_id and spine.month = engagement_features.month
    left join payment_features
        on spine.customer_id = payment_features.customer_id and spine.month = payment_features.month
    left join recovery_features
        on spine.customer_id = recovery_features.customer_id and spine.month = recovery_features.month
    left join ticket_features
        on spine.customer_id = ticket_features.customer_id and spine.month = ticket_features.month
    left join csat_features
        on spine.customer_id = csat_features.customer_id and spine.month = csat_features.month
    left join cancellation_features
        on spine.customer_id = cancellation_features.customer_id and spine.month = cancellation_features.month
    left join dunning_features
        on spine.customer_id = dunning_features.customer_id and spine.month = dunning_features.month
    left join trial_features
        on spine.customer_id = trial_features.customer_id and spine.month = trial_features.month
    left join history_features
        on spine.customer_id = history_features.customer_id and spine.month = history_features.month
    left join labels
        on spine.customer_id = labels.customer_id and spine.month = labels.month

)

select * from final

) as {{ scope }}_rows
{%- endfor %}
