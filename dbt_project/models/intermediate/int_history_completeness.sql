-- One row: the first month whose figures are exact (METRICS.md "Data from providers"). A migrated
-- subscription whose earlier history is unknown (an export holds its start and current terms, not
-- its past changes) carries `history_known_from` on its subscription.started: its events are
-- complete from that moment. Every month that starts before the latest such moment is approximate;
-- without any, every month is exact (exact_from_month = the first month).
with

incomplete as (

    select {{ to_utc_timestamp(json_text('data', 'history_known_from')) }} as history_known_from
    from {{ source('raw', 'events') }}
    where event_type = 'subscription.started'
      and {{ json_text('data', 'history_known_from') }} is not null

),

latest as (

    select max(history_known_from) as history_known_from
    from incomplete

),

first_month as (

    select min(month) as month
    from {{ ref('int_months') }}

),

final as (

    select
        latest.history_known_from,
        coalesce(
            case
                when latest.history_known_from = {{ dbt.date_trunc('month', 'latest.history_known_from') }}
                    then cast({{ dbt.date_trunc('month', 'latest.history_known_from') }} as date)
                else cast({{ dbt.dateadd('month', 1, dbt.date_trunc('month', 'latest.history_known_from')) }} as date)
            end,
            first_month.month
        ) as exact_from_month
    from latest
    cross join first_month

)

select * from final
