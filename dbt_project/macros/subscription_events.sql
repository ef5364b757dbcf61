{#- The subscription events up to the as-of date (in an incremental run, those of the changed
    customers): what int_subscription_timelines and int_subscriptions start from. -#}
{% macro subscription_events_to_as_of() %}
    select subscription_events.*
    from {{ ref('stg_events__subscriptions') }} as subscription_events
    cross join {{ ref('int_as_of') }} as as_of
    where cast(subscription_events.occurred_at as date) <= as_of.as_of_date
      and subscription_events.subscription_id is not null
      {{ changed_customers_only('subscription_events.customer_id') }}
{% endmacro %}
