-- Customer x month end (int_months) with a churn or reactivation movement (fct_mrr_movements) on or
-- before month_end, or a churn in the 90 days after it: the running counts of past churns and
-- reactivations, and the churn labels (a customer `churn` movement in (month_end, month_end + N
-- days], the only columns that look ahead). Read by customer_months (no churn where a
-- customer-month has no row here).
-- INCREMENTAL: the changed customers' rows and every customer's as-of month (build_scopes(),
-- macros/changed_customers.sql); a new movement only comes from its customer's events.
{{ incremental_by_customer(rebuild_recent={'column': 'month', 'days': 0}) }}
{%- for scope in build_scopes() %}
{{ 'union all' if not loop.first }}
select * from (

with

months as (

    select * from {{ ref('int_months') }}
    where true {{ months_in_scope(scope) }}

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

history as (

    select movement_ranges.customer_id, months.month, movement_ranges.past_churns, movement_ranges.past_reactivations
    from movement_ranges
    inner join months
        on movement_ranges.movement_date <= months.month_end
        and coalesce(movement_ranges.next_movement_date, cast('9999-12-31' as date)) > months.month_end

),

next_churns as (

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
        customer_id,
        month,
        history.past_churns,
        history.past_reactivations,
        {% for horizon in [30, 60, 90] -%}
        coalesce(next_churns.days_to_churn <= {{ horizon }}, false) as churned_within_{{ horizon }}d{{ ',' if not loop.last }}
        {% endfor %}
    from history
    full outer join next_churns using (customer_id, month)

)

select * from final

) as {{ scope }}_rows
{%- endfor %}
