{{ incremental_by_customer(changed_weeks_of='engagement.activity') }}
-- Customer x week x month of engagement.activity, aggregated once (engagement is most of the events).
-- Keyed by when the activity was reported (occurred_at, the time it became known), not by the period it
-- describes: week_start = Monday of the week of occurred_at, month = month of occurred_at. A week that
-- straddles a month boundary has one row per month, so that "everything known at the end of month M"
-- is exactly the rows with month <= M (no partial-week leakage into customer_months). Events after the
-- as-of date are left out, so the as-of month holds only what was known at the as-of date.
-- INCREMENTAL by customer and week: a row is a sum over its week's events, so a batch rebuilds each
-- customer's weeks from the first week it brings an event for (one week for a normal new day).
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

engagement as (

    select * from {{ ref('stg_events__engagement') }} as events
    where true {{ changed_weeks_only('events.customer_id', 'events.occurred_at') }}

),

final as (

    select
        engagement.customer_id,
        cast({{ dbt.date_trunc('week', 'engagement.occurred_at') }} as date) as week_start,
        cast({{ dbt.date_trunc('month', 'engagement.occurred_at') }} as date) as month,
        cast(sum(engagement.minutes_watched) as decimal(38, 2)) as minutes_watched,
        cast(sum(engagement.sessions) as bigint) as sessions,
        count(*) as activity_events
    from engagement
    cross join as_of
    where cast(engagement.occurred_at as date) <= as_of.as_of_date
      and engagement.customer_id is not null
    group by 1, 2, 3

)

select * from final
