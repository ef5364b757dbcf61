{{ config(materialized='incremental', incremental_strategy='append', post_hook="{{ record_build_state(fingerprint=false) }}") }}
-- payment.succeeded / failed / refunded / chargeback.
with

source as (

    select *, {{ json_columns('data', ['payment_id', 'subscription_id', 'purchase_id', 'refund_id', 'amount_minor', 'currency', 'provider', 'payment_method', 'failure_code', 'attempt', 'reason']) }}
    from {{ source('raw', 'events') }}
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
        payment_id,
        subscription_id,
        purchase_id,
        refund_id,
        cast(amount_minor as bigint) as amount_minor,
        currency,
        provider,
        payment_method,
        failure_code,
        cast(attempt as integer) as attempt,
        reason

    from source

),

final as (

    select * from renamed

)

select * from final
