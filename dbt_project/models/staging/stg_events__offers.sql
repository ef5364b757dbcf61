with

source as (

    select *, {{ json_columns('data', ['offer_id', 'title', 'offer_type', 'billing_period', 'access_period', 'price_minor', 'currency', 'trial_period']) }}
    from {{ source('raw', 'events') }}
    where event_type = 'offer.published'

),

renamed as (

    select
        event_id,
        occurred_at as published_at,
        source as event_source,
        offer_id,
        title,
        offer_type,
        billing_period,
        access_period,
        cast(price_minor as bigint) as price_minor,
        currency,
        trial_period

    from source

),

final as (

    select * from renamed

)

select * from final
