-- ISO 4217 currencies seen in the events, with the value of one minor unit (EUR 0.01, JPY 1).
with

source as (

    select * from {{ source('raw', 'currencies') }}

),

final as (

    select
        currency,
        cast(minor_unit_value as decimal(18, 6)) as minor_unit_value
    from source

)

select * from final
