{{ config(materialized='incremental', incremental_strategy='append') }}
with

source as (

    select * from {{ source('raw', 'events') }}
    where event_type = 'purchase.completed'
    {{ new_events_only() }}

),

renamed as (

    select
        event_id,
        occurred_at as purchased_at,
        loaded_at,
        source as event_source,
        customer_id,
        {{ json_text('data', 'purchase_id') }} as purchase_id,
        {{ json_text('data', 'offer_id') }} as offer_id,
        {{ json_text('data', 'offer_type') }} as offer_type,
        {{ json_text('data', 'platform') }} as platform,
        cast({{ json_text('data', 'amount_minor') }} as bigint) as amount_minor,
        {{ json_text('data', 'currency') }} as currency,
        {{ to_utc_timestamp(json_text('data', 'access_until')) }} as access_until

    from source

),

final as (

    select * from renamed

)

select * from final
