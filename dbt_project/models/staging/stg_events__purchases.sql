{{ config(materialized='incremental', incremental_strategy='append', post_hook="{{ record_build_state(fingerprint=false) }}") }}
with

source as (

    select *, {{ json_columns('data', ['purchase_id', 'offer_id', 'offer_type', 'platform', 'amount_minor', 'currency', 'access_until']) }}
    from {{ source('raw', 'events') }}
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
        purchase_id,
        offer_id,
        offer_type,
        platform,
        cast(amount_minor as bigint) as amount_minor,
        currency,
        {{ to_utc_timestamp('access_until') }} as access_until

    from source

),

final as (

    select * from renamed

)

select * from final
