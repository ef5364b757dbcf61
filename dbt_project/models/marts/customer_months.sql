-- Point-in-time customer-month table for churn models. Grain: customer x month_end for every month end
-- (int_months; the as-of date for the as-of month) at which the customer had a live subscription
-- (trialing, paying or paused).
--
-- NO LEAKAGE: every feature of a row uses only events that occurred by the end of month_end (event
-- date <= month_end; "one second after month_end" is the next day and never counts). Each family of
-- features is an int_customer_months_* model with its own no-leakage rule, joined by month:
--   subscriptions (tenure, the primary subscription, MRR, offer / plan / platform, discount, price
--     changes)  int_customer_months_subscriptions: the rows of this table
--   coupon expiry, pending cancellation, dunning, trial end  int_customer_months_schedule
--   engagement, payments, support, past churns / reactivations and the churn labels:
--     int_customer_months_engagement / _payments / _support / _history_labels
--   (zero / false / null where a customer-month has no row in a family's model)
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

{% for family in ['subscriptions', 'schedule', 'engagement', 'payments', 'support', 'history_labels'] -%}
{{ family }} as (

    select * from {{ ref('int_customer_months_' ~ family) }}
    where true {{ months_in_scope(scope) }} {{ customers_in_scope(scope, 'customer_id') }}

),

{% endfor -%}

final as (

    select
        subscriptions.customer_id,
        subscriptions.month,
        subscriptions.month_end,
        subscriptions.tenure_days,
        subscriptions.paid_tenure_days,
        subscriptions.subscription_id,
        subscriptions.offer_id,
        subscriptions.offer_type,
        subscriptions.billing_period,
        subscriptions.platform,
        subscriptions.currency,
        subscriptions.live_subscriptions,
        subscriptions.paused_subscriptions,
        subscriptions.trialing_subscriptions,
        subscriptions.mrr,
        subscriptions.price_increases_90d,
        subscriptions.price_decreases_90d,
        subscriptions.last_price_change_pct_90d,
        subscriptions.has_discount,
        coalesce(schedule.coupon_expiring_30d, false) as coupon_expiring_30d,
        cast(coalesce(payments.failed_payments_30d, 0) as integer) as failed_payments_30d,
        cast(coalesce(payments.failed_payments_90d, 0) as integer) as failed_payments_90d,
        cast(coalesce(payments.recovered_payments_90d, 0) as integer) as recovered_payments_90d,
        coalesce(schedule.in_dunning, false) as in_dunning,
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
        coalesce(schedule.has_pending_cancellation, false) as has_pending_cancellation,
        schedule.days_to_cancellation,
        schedule.days_to_trial_end,
        cast(coalesce(history_labels.past_churns, 0) as integer) as past_churns,
        cast(coalesce(history_labels.past_reactivations, 0) as integer) as past_reactivations,
        {% for horizon in [30, 60, 90] -%}
        coalesce(history_labels.churned_within_{{ horizon }}d, false) as churned_within_{{ horizon }}d,
        {{ dbt.dateadd('day', horizon, 'subscriptions.month_end') }} <= as_of.as_of_date as label_observable_{{ horizon }}d{{ ',' if not loop.last }}
        {% endfor %}
    from subscriptions
    cross join as_of
    {% for family in ['schedule', 'engagement', 'payments', 'support', 'history_labels'] -%}
    left join {{ family }}
        on subscriptions.customer_id = {{ family }}.customer_id and subscriptions.month = {{ family }}.month
    {% endfor %}
)

select * from final

) as {{ scope }}_rows
{%- endfor %}
