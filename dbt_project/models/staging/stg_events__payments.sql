{{ config(materialized='incremental', incremental_strategy='append') }}
-- payment.succeeded / failed / refunded / chargeback.
with

source as (

    select * from {{ source('raw', 'events') }}
    where event_type like 'payment.%'
    {{ new_events_only() }}

),

renamed as (

    select
        event_id,
        event_type,
        replace(event_type, 'payment.', '') as payment_event,
        occurred_at,
        loaded_at,
        source as event_source,
        customer_id,
        {{ json_text('data', 'payment_id') }} as payment_id,
        {{ json_text('data', 'subscription_id') }} as subscription_id,
        {{ json_text('data', 'purchase_id') }} as purchase_id,
        {{ json_text('data', 'refund_id') }} as refund_id,
        cast({{ json_text('data', 'amount_minor') }} as bigint) as amount_minor,
        {{ json_text('data', 'currency') }} as currency,
        {{ json_text('data', 'provider') }} as provider,
        {{ json_text('data', 'payment_method') }} as payment_method,
        {{ json_text('data', 'failure_code') }} as failure_code,
        cast({{ json_text('data', 'attempt') }} as integer) as attempt,
        {{ json_text('data', 'reason') }} as reason

    from source

),

final as (

    select * from renamed

)

select * from final
