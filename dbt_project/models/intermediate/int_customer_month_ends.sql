-- Customer x month (int_months) at whose month end the customer had a live subscription: MRR and
-- trial MRR at the month end (reporting currency at that day's rate, exact) and the counts of live /
-- paused / trialing subscriptions. The customer's MRR intervals are joined to the month ends by range
-- (valid_from <= month_end < valid_to): no calendar x customer expansion.
-- INCREMENTAL: the changed customers' rows and every customer's as-of month (macro scoped_build).
{{ config(
    materialized='incremental',
    incremental_strategy='changed_customers',
    rebuild_recent={'column': 'month', 'days': 0},
    pre_hook="{{ prepare_changed_customers() }}",
    post_hook="{{ record_build_state() }}",
) }}
-- depends_on: {{ ref('int_fx_rates_daily') }} {{ ref('int_as_of') }} {{ ref('stg_events__subscriptions') }}
{{ scoped_build(customer_month_ends_sql) }}
