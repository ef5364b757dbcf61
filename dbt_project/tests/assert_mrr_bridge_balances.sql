{{ config(meta={'dagster': {'ref': {'name': 'metrics_monthly'}}}) }}
-- For every month: MRR_end = MRR_start + all movements + fx_adjustment, EXACTLY (decimal equality),
-- with MRR_end recomputed independently as sum over currencies of the customers' local levels on the
-- month's last day (the as-of date for the as-of month) x that day's rate, and the movements summed
-- from fct_mrr_movements. Also per segment. Any returned row is a failure.
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

monthly as (

    select * from {{ ref('metrics_monthly') }}

),

month_ends as (

    select
        monthly.month,
        case
            when cast({{ dbt.last_day('monthly.month', 'month') }} as date) < as_of.as_of_date
                then cast({{ dbt.last_day('monthly.month', 'month') }} as date)
            else as_of.as_of_date
        end as month_end
    from monthly
    cross join as_of

),

levels_at_month_end as (

    select
        month_ends.month,
        sum(intervals.mrr_local * fx.unit_rate) as mrr
    from month_ends
    inner join {{ ref('int_customer_mrr_intervals') }} as intervals
        on intervals.valid_from <= month_ends.month_end
        and (intervals.valid_to is null or intervals.valid_to > month_ends.month_end)
    inner join {{ ref('int_fx_rates_daily') }} as fx
        on intervals.currency = fx.currency
        and fx.rate_date = month_ends.month_end
    group by month_ends.month

),

movements as (

    select
        cast({{ dbt.date_trunc('month', 'movement_date') }} as date) as month,
        sum(mrr_change) as movements
    from {{ ref('fct_mrr_movements') }}
    group by 1

),

checked as (

    select
        monthly.month,
        monthly.mrr,
        coalesce(levels_at_month_end.mrr, 0) as mrr_from_levels,
        coalesce(lag(monthly.mrr) over (order by monthly.month), 0) as mrr_start,
        coalesce(movements.movements, 0) as movements,
        monthly.net_new_mrr,
        monthly.fx_adjustment
    from monthly
    left join levels_at_month_end on monthly.month = levels_at_month_end.month
    left join movements on monthly.month = movements.month

),

segment_checked as (

    select
        month,
        country,
        platform,
        mrr,
        coalesce(lag(mrr) over (partition by country, platform order by month), 0) as mrr_start,
        net_new_mrr,
        fx_adjustment
    from {{ ref('metrics_monthly_by_segment') }}

),

final as (

    select 'total' as scope, month, null as country, null as platform
    from checked
    where mrr <> mrr_from_levels
       or mrr <> mrr_start + movements + fx_adjustment
       or movements <> net_new_mrr

    union all

    select 'segment' as scope, month, country, platform
    from segment_checked
    where mrr <> mrr_start + net_new_mrr + fx_adjustment

)

select * from final
