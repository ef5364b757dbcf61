-- One row per customer seen in any customer, subscription, purchase or payment event, with the
-- latest known attributes (customer.created then customer.updated, later values win; erased
-- customers keep only their pseudonymous id) and the segment used by the monthly marts.
{{ incremental_by_customer() }}
with

customer_events as (

    select * from {{ ref('stg_events__customers') }}
    where true {{ changed_customers_only('customer_id') }}

),

known_customers as (

    select customer_id from customer_events
    union
    select customer_id from {{ ref('stg_events__subscriptions') }} where true {{ changed_customers_only('customer_id') }}
    union
    select customer_id from {{ ref('stg_events__purchases') }} where true {{ changed_customers_only('customer_id') }}
    union
    select customer_id from {{ ref('stg_events__payments') }} where true {{ changed_customers_only('customer_id') }}

),

attributes as (

    select
        customer_id,
        min(occurred_at) as created_at,
        bool_or(is_erased) as is_erased,
        {% for column in ['country', 'signup_platform', 'acquisition_channel', 'marketing_consent'] -%}
        max_by({{ column }}, case when {{ column }} is not null then strftime(occurred_at, '%Y-%m-%d %H:%M:%S.%f') || event_id end) as {{ column }}{{ ',' if not loop.last }}
        {% endfor %}
    from customer_events
    group by customer_id

),

final as (

    select
        known_customers.customer_id,
        attributes.created_at,
        coalesce(attributes.is_erased, false) as is_erased,
        attributes.country,
        attributes.signup_platform,
        attributes.acquisition_channel,
        attributes.marketing_consent,
        coalesce(attributes.country, 'unknown') as segment_country,
        coalesce(attributes.signup_platform, 'unknown') as segment_platform
    from known_customers
    left join attributes on known_customers.customer_id = attributes.customer_id
    where known_customers.customer_id is not null and known_customers.customer_id <> ''

)

select * from final
