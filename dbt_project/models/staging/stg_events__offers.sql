with

source as (

    select * from {{ source('raw', 'events') }}
    where event_type = 'offer.published'

),

renamed as (

    select
        event_id,
        occurred_at as published_at,
        source as event_source,
        {{ json_text('data', 'offer_id') }} as offer_id,
        {{ json_text('data', 'title') }} as title,
        {{ json_text('data', 'offer_type') }} as offer_type,
        {{ json_text('data', 'billing_period') }} as billing_period,
        {{ json_text('data', 'access_period') }} as access_period,
        cast({{ json_text('data', 'price_minor') }} as bigint) as price_minor,
        {{ json_text('data', 'currency') }} as currency,
        {{ json_text('data', 'trial_period') }} as trial_period

    from source

),

final as (

    select * from renamed

)

select * from final
