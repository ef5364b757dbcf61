-- One row per subscription a provider reported active at its last API backfill (its own view,
-- raw.provider_views, replaced per source by the ingestion step): what reconciliation compares.
with

source as (

    select * from {{ source('raw', 'provider_views') }}

),

renamed as (

    select
        source as provider_source,
        as_of,
        cast(as_of as date) as as_of_date,
        customer_id,
        subscription_id,
        status as provider_status,
        upper(currency) as currency,
        cast(mrr as decimal(18, 6)) as provider_mrr
    from source

),

final as (

    select * from renamed

)

select * from final
