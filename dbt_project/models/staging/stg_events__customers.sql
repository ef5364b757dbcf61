-- customer.created / customer.updated / customer.erased.
-- Right to erasure: every personal attribute of an erased customer is dropped (nulled) on all of
-- their events; the rows stay (pseudonymous id only) so aggregate facts remain countable.
with

source as (

    select *, {{ json_columns('data', ['country', 'signup_platform', 'acquisition_channel', 'marketing_consent']) }}
    from {{ source('raw', 'events') }}
    where event_type in ('customer.created', 'customer.updated', 'customer.erased')

),

erased as (

    select distinct customer_id
    from source
    where event_type = 'customer.erased'

),

renamed as (

    select
        source.event_id,
        source.event_type,
        source.occurred_at,
        source.source as event_source,
        source.customer_id,
        erased.customer_id is not null as is_erased,
        case when erased.customer_id is null then source.country end as country,
        case when erased.customer_id is null then source.signup_platform end as signup_platform,
        case when erased.customer_id is null then source.acquisition_channel end as acquisition_channel,
        case when erased.customer_id is null then cast(source.marketing_consent as boolean) end as marketing_consent

    from source
    left join erased on source.customer_id = erased.customer_id

),

final as (

    select * from renamed

)

select * from final
