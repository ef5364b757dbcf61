-- Customer x month (int_months) at whose month end the customer had a live subscription: MRR and
-- trial MRR at the month end (reporting currency at that day's rate, exact) and the counts of live /
-- paused / trialing subscriptions. The customer's MRR intervals are joined to the month ends by range
-- (valid_from <= month_end < valid_to): no calendar x customer expansion.
-- INCREMENTAL: the changed customers' rows and every customer's as-of month: the SQL below in the
-- scopes of build_scopes() (macros/changed_customers.sql).
{{ incremental_by_customer(rebuild_recent={'column': 'month', 'days': 0}) }}
{%- for scope in build_scopes() %}
{{ 'union all' if not loop.first }}
select * from (

with

months as (

    select * from {{ ref('int_months') }}
    where true {{ months_in_scope(scope) }}

),

intervals as (

    select * from {{ ref('int_customer_mrr_intervals') }}
    where true {{ customers_in_scope(scope, 'customer_id') }}

),

fx as (

    select * from {{ ref('int_fx_rates_daily') }}

),

final as (

    select
        intervals.customer_id,
        months.month,
        months.month_end,
        cast(sum(intervals.mrr_local * fx.unit_rate) as decimal(38, 22)) as mrr,
        cast(sum(intervals.trial_mrr_local * fx.unit_rate) as decimal(38, 22)) as trial_mrr,
        cast(sum(intervals.live_subscriptions) as integer) as live_subscriptions,
        cast(sum(intervals.paused_subscriptions) as integer) as paused_subscriptions,
        cast(sum(intervals.trialing_subscriptions) as integer) as trialing_subscriptions
    from intervals
    inner join months
        on intervals.valid_from <= months.month_end
        and coalesce(intervals.valid_to, cast('9999-12-31' as date)) > months.month_end
    left join fx
        on intervals.currency = fx.currency
        and fx.rate_date = months.month_end
    group by intervals.customer_id, months.month, months.month_end
    having sum(intervals.live_subscriptions) > 0

)

select * from final

) as {{ scope }}_rows
{%- endfor %}
