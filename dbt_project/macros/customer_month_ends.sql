{#- The SQL of int_customer_month_ends for one scope (macro scoped_build). -#}
{% macro customer_month_ends_sql(scope) %}
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
{% endmacro %}
