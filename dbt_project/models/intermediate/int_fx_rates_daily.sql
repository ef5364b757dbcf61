-- currency x day from the first event day - 1 to the as-of date: the rate to the reporting currency
-- (last earlier rate on a day without one) and `unit_rate` = reporting major units per one minor
-- unit of the currency (minor_unit_value x rate, exact decimal).
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

currencies as (

    select
        currency,
        cast(minor_unit_value as decimal(38, 6)) as minor_unit_value
    from {{ source('raw', 'currencies') }}

),

rates as (

    select
        fx.currency,
        fx.rate_date,
        cast(fx.rate as decimal(38, 10)) as rate
    from {{ source('raw', 'fx_rates') }} as fx
    cross join as_of
    where fx.reporting_currency = as_of.reporting_currency
      and fx.rate_date <= as_of.as_of_date

    union all

    -- the reporting currency converts at 1 even when the rate table omits it
    select
        as_of.reporting_currency as currency,
        {{ dbt.dateadd('day', -1, 'as_of.first_event_date') }} as rate_date,
        cast(1 as decimal(38, 10)) as rate
    from as_of

),

rate_currencies as (

    select distinct currency from rates

),

days as (

    {{ day_series(dbt.dateadd('day', -1, 'first_event_date'), 'as_of_date', 'as_of') }}

),

spine as (

    select
        rate_currencies.currency,
        cast(days.day as date) as rate_date
    from rate_currencies
    cross join days

),

-- a rate published before the spine starts still applies on its first days
opening_rates as (

    select currency, rate_date, rate
    from (
        select
            rates.currency,
            rates.rate,
            cast({{ dbt.dateadd('day', -1, 'as_of.first_event_date') }} as date) as rate_date,
            row_number() over (
                partition by rates.currency order by rates.rate_date desc
            ) as rn
        from rates
        cross join as_of
        where rates.rate_date <= {{ dbt.dateadd('day', -1, 'as_of.first_event_date') }}
    ) as ranked
    where rn = 1

),

known_rates as (

    select currency, rate_date, rate from rates
    where rate_date > (select {{ dbt.dateadd('day', -1, 'first_event_date') }} from as_of)
    union all
    select currency, rate_date, rate from opening_rates

),

deduplicated_rates as (

    select currency, rate_date, max(rate) as rate
    from known_rates
    group by currency, rate_date

),

filled as (

    select
        spine.currency,
        spine.rate_date,
        last_value(deduplicated_rates.rate ignore nulls) over (
            partition by spine.currency order by spine.rate_date
            rows between unbounded preceding and current row
        ) as rate
    from spine
    left join deduplicated_rates
        on spine.currency = deduplicated_rates.currency
        and spine.rate_date = deduplicated_rates.rate_date

),

final as (

    select
        filled.currency,
        filled.rate_date,
        filled.rate,
        currencies.minor_unit_value,
        cast(currencies.minor_unit_value * filled.rate as decimal(38, 16)) as unit_rate,
        cast(lag(currencies.minor_unit_value * filled.rate) over (
            partition by filled.currency order by filled.rate_date
        ) as decimal(38, 16)) as previous_unit_rate
    from filled
    inner join currencies on filled.currency = currencies.currency

)

select * from final
