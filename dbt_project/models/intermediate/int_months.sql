-- One row per calendar month from the first event month to the as-of month, with its month end
-- (the last day of the month, or the as-of date for the as-of month: the same convention as
-- metrics_monthly) and the end of the previous month.
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

days as (

    {{ day_series('first_event_date', 'as_of_date', ref('int_as_of')) }}

),

months as (

    select distinct cast({{ dbt.date_trunc('month', 'day') }} as date) as month
    from days

),

final as (

    select
        months.month,
        case
            when cast({{ dbt.last_day('months.month', 'month') }} as date) < as_of.as_of_date
                then cast({{ dbt.last_day('months.month', 'month') }} as date)
            else as_of.as_of_date
        end as month_end,
        cast({{ dbt.last_day('months.month', 'month') }} as date) >= as_of.as_of_date as is_as_of_month,
        cast({{ dbt.dateadd('day', -1, 'months.month') }} as date) as previous_month_end
    from months
    cross join as_of

)

select * from final
