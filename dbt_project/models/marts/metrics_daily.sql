-- One row per day from the first event day to the as-of date: MRR at the end of the day (each day at
-- its own rate), paying customers, the day's MRR movements by type and FX adjustment, so that
-- mrr(d) = mrr(d - 1) + net_new_mrr(d) + fx_adjustment(d) exactly (the daily MRR bridge). Built from
-- int_segment_mrr_daily, fct_mrr_movements and int_customer_mrr_changes; no customer x day expansion.
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

segment_daily as (

    select * from {{ ref('int_segment_mrr_daily') }}

),

movements as (

    select * from {{ ref('fct_mrr_movements') }}

),

changes as (

    select * from {{ ref('int_customer_mrr_changes') }}

),

days as (

    select
        segment_daily.day,
        sum(segment_daily.mrr) as mrr,
        sum(segment_daily.trial_mrr) as trial_mrr,
        sum(segment_daily.fx_adjustment) as fx_adjustment
    from segment_daily
    cross join as_of
    where segment_daily.day >= as_of.first_event_date
    group by segment_daily.day

),

movement_sums as (

    select
        movement_date as day,
        {% for movement, column in var('movement_mrr_columns').items() -%}
        sum(case when movement_type = '{{ movement }}' then mrr_change else 0 end) as {{ column }},
        {% endfor -%}
        count(distinct case when movement_type = 'new' then customer_id end) as new_customers,
        count(distinct case when movement_type = 'churn' then customer_id end) as churned_customers,
        count(distinct case when movement_type = 'reactivation' then customer_id end) as reactivated_customers
    from movements
    group by movement_date

),

paying_deltas as (

    select
        change_date as day,
        sum(
            case when mrr_after > 0 then 1 else 0 end
            - case when mrr_before > 0 then 1 else 0 end
        ) as paying_delta
    from changes
    group by change_date

),

-- the first day of the series also carries the customers paying before it (none: the series starts
-- with the first event), so a running sum of the deltas is the count at the end of each day
final as (

    select
        days.day,
        cast(days.mrr as decimal(38, 22)) as mrr,
        cast(sum(coalesce(paying_deltas.paying_delta, 0)) over running as integer) as paying_customers,
        {% for column in var('movement_mrr_columns').values() -%}
        cast(coalesce(movement_sums.{{ column }}, 0) as decimal(38, 22)) as {{ column }},
        {% endfor -%}
        cast(coalesce(
            {%- for column in var('movement_mrr_columns').values() %}
            {{ '+ ' if not loop.first }}movement_sums.{{ column }}
            {%- endfor %}, 0) as decimal(38, 22)) as net_new_mrr,
        cast(days.fx_adjustment as decimal(38, 22)) as fx_adjustment,
        cast(coalesce(movement_sums.new_customers, 0) as integer) as new_customers,
        cast(coalesce(movement_sums.churned_customers, 0) as integer) as churned_customers,
        cast(coalesce(movement_sums.reactivated_customers, 0) as integer) as reactivated_customers,
        cast(days.trial_mrr as decimal(38, 22)) as trial_mrr
    from days
    left join movement_sums on days.day = movement_sums.day
    left join paying_deltas on days.day = paying_deltas.day
    window running as (order by days.day rows between unbounded preceding and current row)

)

select * from final
