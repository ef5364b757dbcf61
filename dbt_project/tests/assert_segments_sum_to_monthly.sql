{{ config(meta={'dagster': {'ref': {'name': 'metrics_monthly'}}}) }}
-- Summing metrics_monthly_by_segment over segments gives metrics_monthly for every additive column.
with

by_segment as (

    select
        month,
        {% set additive = ['mrr', 'paying_customers', 'paying_customers_at_start'] + var('bridge_columns') + [
            'net_new_mrr', 'new_customers', 'churned_customers', 'churned_from_start_customers', 'churned_in_first_month_customers',
            'reactivated_customers', 'voluntary_churned_customers', 'involuntary_churned_customers',
            'trial_mrr', 'one_time_revenue', 'refunds', 'chargebacks'] %}
        {% for column in additive -%}
        sum({{ column }}) as {{ column }}{{ ',' if not loop.last }}
        {% endfor %}
    from {{ ref('metrics_monthly_by_segment') }}
    group by month

),

final as (

    select coalesce(monthly.month, by_segment.month) as month
    from {{ ref('metrics_monthly') }} as monthly
    full outer join by_segment on monthly.month = by_segment.month
    where monthly.month is null
       or by_segment.month is null
       {% for column in additive -%}
       or monthly.{{ column }} <> by_segment.{{ column }}
       {% endfor %}

)

select * from final
