-- One row per month from the first event month to the as-of month (int_months): the MRR bridge, customer counts,
-- churn rates, quick ratio, ARPU, LTV, trial MRR and one-time revenue (METRICS.md).
-- The additive columns are the sums of metrics_monthly_by_segment over segments. Months before a
-- migrated history is known are marked approximate (is_exact, exact_from_month).
with

by_segment as (

    select * from {{ ref('metrics_monthly_by_segment') }}

),

months as (

    select * from {{ ref('int_months') }}

),

completeness as (

    select * from {{ ref('int_history_completeness') }}

),

summed as (

    select
        months.month,
        {% for column in ['mrr', 'paying_customers', 'paying_customers_at_start'] + var('bridge_columns') + [
            'net_new_mrr', 'new_customers', 'churned_customers', 'churned_from_start_customers', 'churned_in_first_month_customers',
            'reactivated_customers', 'voluntary_churned_customers', 'involuntary_churned_customers',
            'trial_mrr', 'one_time_revenue', 'payments', 'refunds', 'chargebacks'] -%}
        coalesce(sum(by_segment.{{ column }}), 0) as {{ column }}{{ ',' if not loop.last }}
        {% endfor %}
    from months
    left join by_segment on months.month = by_segment.month
    group by months.month

),

with_start as (

    select
        summed.*,
        coalesce(lag(mrr) over (order by month), 0) as mrr_at_start
    from summed

),

rates as (

    select
        with_start.*,
        cast(churned_from_start_customers as double) / nullif(paying_customers_at_start, 0) as customer_churn_rate,
        -cast(churned_mrr + contraction_mrr as double) / nullif(cast(mrr_at_start as double), 0) as gross_mrr_churn_rate,
        -cast(churned_mrr + contraction_mrr + expansion_mrr + reactivation_mrr as double)
            / nullif(cast(mrr_at_start as double), 0) as net_mrr_churn_rate,
        cast(new_mrr + expansion_mrr + reactivation_mrr as double)
            / nullif(abs(cast(churned_mrr + contraction_mrr as double)), 0) as quick_ratio,
        cast(mrr as double) / nullif(paying_customers, 0) as arpu_value
    from with_start

),

final as (

    select
        month,
        cast(mrr as decimal(38, 22)) as mrr,
        cast(12 * mrr as decimal(38, 22)) as arr,
        cast(paying_customers as integer) as paying_customers,
        cast(paying_customers_at_start as integer) as paying_customers_at_start,
        cast(mrr_at_start as decimal(38, 22)) as mrr_at_start,
        {% for column in var('bridge_columns') + ['net_new_mrr'] -%}
        cast({{ column }} as decimal(38, 22)) as {{ column }},
        {% endfor -%}
        {% for column in ['new_customers', 'churned_customers', 'churned_from_start_customers', 'churned_in_first_month_customers', 'reactivated_customers', 'voluntary_churned_customers', 'involuntary_churned_customers'] -%}
        cast({{ column }} as integer) as {{ column }},
        {% endfor -%}
        customer_churn_rate,
        gross_mrr_churn_rate,
        net_mrr_churn_rate,
        1 - net_mrr_churn_rate as net_revenue_retention,
        quick_ratio,
        cast(round(arpu_value, 6) as decimal(38, 6)) as arpu,
        cast(round(
            arpu_value / nullif(avg(customer_churn_rate) over trailing_3_months, 0),
            6) as decimal(38, 6)) as ltv,
        cast(trial_mrr as decimal(38, 22)) as trial_mrr,
        {% for column in ['one_time_revenue', 'payments', 'refunds', 'chargebacks'] -%}
        cast({{ column }} as decimal(38, 16)) as {{ column }},
        {% endfor -%}
        cast(payments - refunds - chargebacks as decimal(38, 16)) as net_cash_revenue,
        completeness.exact_from_month,
        rates.month >= completeness.exact_from_month as is_exact
    from rates
    cross join completeness
    window trailing_3_months as (order by month rows between 2 preceding and current row)

)

select * from final
