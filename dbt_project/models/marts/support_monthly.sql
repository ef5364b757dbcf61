-- Month x category x channel of support tickets (category, channel of the ticket_opened event).
-- tickets_opened by the month they were opened; resolved, resolution minutes and CSAT by the month of
-- support.ticket_resolved (a flow measure: a ticket opened in March and resolved in April counts as
-- opened in March and resolved in April). Median is the continuous median (percentile_cont 0.5).
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

support as (

    select support.*
    from {{ ref('stg_events__support') }} as support
    cross join as_of
    where cast(support.occurred_at as date) <= as_of.as_of_date

),

opened as (

    select *
    from (
        select
            ticket_id,
            occurred_at,
            coalesce(category, 'unknown') as category,
            coalesce(channel, 'unknown') as channel,
            row_number() over (partition by ticket_id order by occurred_at, event_id) as rn
        from support
        where event_type = 'support.ticket_opened'
    ) as ranked
    where rn = 1

),

resolved as (

    select *
    from (
        select
            ticket_id,
            occurred_at,
            resolution_minutes,
            csat,
            row_number() over (partition by ticket_id order by occurred_at, event_id) as rn
        from support
        where event_type = 'support.ticket_resolved'
    ) as ranked
    where rn = 1

),

events as (

    select
        cast({{ dbt.date_trunc('month', 'occurred_at') }} as date) as month,
        category,
        channel,
        1 as is_opened,
        0 as is_resolved,
        cast(null as integer) as resolution_minutes,
        cast(null as integer) as csat
    from opened

    union all

    select
        cast({{ dbt.date_trunc('month', 'resolved.occurred_at') }} as date) as month,
        coalesce(opened.category, 'unknown') as category,
        coalesce(opened.channel, 'unknown') as channel,
        0 as is_opened,
        1 as is_resolved,
        resolved.resolution_minutes,
        resolved.csat
    from resolved
    left join opened on resolved.ticket_id = opened.ticket_id

),

final as (

    select
        month,
        category,
        channel,
        cast(sum(is_opened) as integer) as tickets_opened,
        cast(sum(is_resolved) as integer) as tickets_resolved,
        percentile_cont(0.5) within group (order by resolution_minutes) as median_resolution_minutes,
        avg(resolution_minutes) as mean_resolution_minutes,
        avg(csat) as csat_average,
        cast(count(csat) as integer) as csat_responses
    from events
    group by 1, 2, 3

)

select * from final
