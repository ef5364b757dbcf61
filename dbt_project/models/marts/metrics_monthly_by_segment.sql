-- Month x customer country x signup platform with the additive columns of metrics_monthly.
-- A customer belongs to one segment (latest attributes; `unknown` when missing or erased), so
-- summing over segments gives metrics_monthly exactly; rates are recomputed from the sums.
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

customers as (

    select * from {{ ref('int_customers') }}

),

daily as (

    select * from {{ ref('int_segment_mrr_daily') }}

),

movements as (

    select * from {{ ref('fct_mrr_movements') }}

),

changes as (

    select * from {{ ref('int_customer_mrr_changes') }}

),

revenue as (

    select * from {{ ref('int_revenue_events') }}

),

months as (

    select distinct
        cast({{ dbt.date_trunc('month', 'fx.rate_date') }} as date) as month
    from {{ ref('int_fx_rates_daily') }} as fx
    cross join as_of
    where fx.rate_date >= as_of.first_event_date

),

month_bounds as (

    select
        months.month,
        case
            when cast({{ dbt.last_day('months.month', 'month') }} as date) < as_of.as_of_date
                then cast({{ dbt.last_day('months.month', 'month') }} as date)
            else as_of.as_of_date
        end as month_end
    from months
    cross join as_of

),

segments as (

    select distinct segment_country, segment_platform from customers

),

grid as (

    select month_bounds.month, month_bounds.month_end, segments.segment_country, segments.segment_platform
    from month_bounds
    cross join segments

),

mrr_at_month_end as (

    select
        month_bounds.month,
        daily.segment_country,
        daily.segment_platform,
        sum(daily.mrr) as mrr,
        sum(daily.trial_mrr) as trial_mrr
    from daily
    inner join month_bounds on daily.day = month_bounds.month_end
    group by 1, 2, 3

),

fx_by_month as (

    select
        cast({{ dbt.date_trunc('month', 'daily.day') }} as date) as month,
        daily.segment_country,
        daily.segment_platform,
        sum(daily.fx_adjustment) as fx_adjustment
    from daily
    cross join as_of
    where daily.day >= as_of.first_event_date
    group by 1, 2, 3

),

customer_movements as (

    select
        movements.*,
        cast({{ dbt.date_trunc('month', 'movements.movement_date') }} as date) as month,
        customers.segment_country,
        customers.segment_platform
    from movements
    inner join customers on movements.customer_id = customers.customer_id

),

churned_customer_months as (

    select distinct customer_id, month
    from customer_movements
    where movement_type = 'churn'

),

-- was the churned customer paying at the start of the month (end of the previous day)?
paying_at_start as (

    select customer_id, month, mrr_after > 0 as was_paying
    from (
        select
            churned_customer_months.customer_id,
            churned_customer_months.month,
            changes.mrr_after,
            row_number() over (
                partition by churned_customer_months.customer_id, churned_customer_months.month
                order by changes.change_date desc
            ) as rn
        from churned_customer_months
        inner join changes
            on churned_customer_months.customer_id = changes.customer_id
            and changes.change_date < churned_customer_months.month
    ) as ranked
    where rn = 1

),

movement_sums as (

    select
        customer_movements.month,
        customer_movements.segment_country,
        customer_movements.segment_platform,
        {% for movement, column in var('movement_mrr_columns').items() -%}
        sum(case when movement_type = '{{ movement }}' then mrr_change else 0 end) as {{ column }},
        {% endfor -%}
        count(distinct case when movement_type = 'new' then customer_movements.customer_id end) as new_customers,
        count(distinct case when movement_type = 'churn' then customer_movements.customer_id end) as churned_customers,
        count(distinct case when movement_type = 'churn' and paying_at_start.was_paying then customer_movements.customer_id end)
            as churned_from_start_customers,
        count(distinct case when movement_type = 'churn' and not coalesce(paying_at_start.was_paying, false) then customer_movements.customer_id end)
            as churned_in_first_month_customers,
        count(distinct case when movement_type = 'reactivation' then customer_movements.customer_id end) as reactivated_customers,
        count(distinct case when movement_type = 'churn' and churn_type = 'voluntary' then customer_movements.customer_id end)
            as voluntary_churned_customers,
        count(distinct case when movement_type = 'churn' and churn_type = 'involuntary' then customer_movements.customer_id end)
            as involuntary_churned_customers
    from customer_movements
    left join paying_at_start
        on customer_movements.customer_id = paying_at_start.customer_id
        and customer_movements.month = paying_at_start.month
    group by 1, 2, 3

),

paying_deltas as (

    select
        cast({{ dbt.date_trunc('month', 'changes.change_date') }} as date) as month,
        customers.segment_country,
        customers.segment_platform,
        sum(
            case when changes.mrr_after > 0 then 1 else 0 end
            - case when changes.mrr_before > 0 then 1 else 0 end
        ) as paying_delta
    from changes
    inner join customers on changes.customer_id = customers.customer_id
    group by 1, 2, 3

),

revenue_sums as (

    select
        cast({{ dbt.date_trunc('month', 'revenue.revenue_date') }} as date) as month,
        customers.segment_country,
        customers.segment_platform,
        sum(case when revenue_type = 'one_time_purchase' then amount else 0 end) as one_time_revenue,
        sum(case when revenue_type = 'payment' then amount else 0 end) as payments,
        sum(case when revenue_type = 'refund' then amount else 0 end) as refunds,
        sum(case when revenue_type = 'chargeback' then amount else 0 end) as chargebacks
    from revenue
    inner join customers on revenue.customer_id = customers.customer_id
    group by 1, 2, 3

),

joined as (

    select
        grid.month,
        grid.segment_country as country,
        grid.segment_platform as platform,
        cast(coalesce(mrr_at_month_end.mrr, 0) as decimal(38, 22)) as mrr,
        cast(sum(coalesce(paying_deltas.paying_delta, 0)) over segment_running as integer) as paying_customers,
        cast(
            sum(coalesce(paying_deltas.paying_delta, 0)) over segment_running
            - coalesce(paying_deltas.paying_delta, 0)
        as integer) as paying_customers_at_start,
        {% for column in var('movement_mrr_columns').values() -%}
        cast(coalesce(movement_sums.{{ column }}, 0) as decimal(38, 22)) as {{ column }},
        {% endfor -%}
        cast(coalesce(fx_by_month.fx_adjustment, 0) as decimal(38, 22)) as fx_adjustment,
        {% for column in ['new_customers', 'churned_customers', 'churned_from_start_customers', 'churned_in_first_month_customers', 'reactivated_customers', 'voluntary_churned_customers', 'involuntary_churned_customers'] -%}
        cast(coalesce(movement_sums.{{ column }}, 0) as integer) as {{ column }},
        {% endfor -%}
        cast(coalesce(mrr_at_month_end.trial_mrr, 0) as decimal(38, 22)) as trial_mrr,
        {% for column in ['one_time_revenue', 'payments', 'refunds', 'chargebacks'] -%}
        cast(coalesce(revenue_sums.{{ column }}, 0) as decimal(38, 16)) as {{ column }}{{ ',' if not loop.last }}
        {% endfor %}
    from grid
    left join mrr_at_month_end
        on grid.month = mrr_at_month_end.month
        and grid.segment_country = mrr_at_month_end.segment_country
        and grid.segment_platform = mrr_at_month_end.segment_platform
    left join fx_by_month
        on grid.month = fx_by_month.month
        and grid.segment_country = fx_by_month.segment_country
        and grid.segment_platform = fx_by_month.segment_platform
    left join movement_sums
        on grid.month = movement_sums.month
        and grid.segment_country = movement_sums.segment_country
        and grid.segment_platform = movement_sums.segment_platform
    left join paying_deltas
        on grid.month = paying_deltas.month
        and grid.segment_country = paying_deltas.segment_country
        and grid.segment_platform = paying_deltas.segment_platform
    left join revenue_sums
        on grid.month = revenue_sums.month
        and grid.segment_country = revenue_sums.segment_country
        and grid.segment_platform = revenue_sums.segment_platform
    window segment_running as (
        partition by grid.segment_country, grid.segment_platform
        order by grid.month
        rows between unbounded preceding and current row
    )

),

final as (

    select
        *,
        cast({{ var('movement_mrr_columns').values() | join(' + ') }} as decimal(38, 22)) as net_new_mrr
    from joined

)

select * from final
