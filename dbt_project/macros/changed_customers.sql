{#- Incremental models keyed by customer.

    Every per-customer table (subscription states, MRR intervals and changes, movements,
    engagement, customer months) is a function of that customer's events, the as-of date, the FX
    rates and a few vars. When a new batch arrives only the customers with new events change,
    plus those whose scheduled changes (a trial end, a future-dated change or renewal) the as-of
    date has just passed. Such a model starts with `{{ incremental_by_customer() }}` (its
    config: the strategy below and the two hooks) and filters its customer-keyed inputs with `{{ changed_customers_only('x.customer_id') }}`.
    The pre-hook writes the changed customers into a temporary table; the strategy deletes their
    rows from the model and inserts the rebuilt ones; the post-hook, in the same transaction,
    records in dbt_state.build_state how far the model has read: the raw watermark (never ahead of
    an incremental model it reads, even through a table in between: a partial run that skips an
    upstream model leaves the changes it has not seen to be re-read next time), the as-of date, a fingerprint of what is not customer-keyed
    (FX rates up to the as-of date, offers, vars) and how many customers it rebuilt (null for a
    full build). A changed fingerprint, an
    explicit `as_of` var or a missing state make every customer "changed": the run is then a
    full rebuild with the same SQL. A failed run records nothing, so the next run re-reads from
    the older watermark (a superset: rebuilding a customer twice is harmless). -#}

{#- is_incremental(), also where no relation is being built (dbt unit tests: `this` is none). -#}
{% macro incremental_run() -%}
    {{ return(this is not none and is_incremental()) }}
{%- endmacro %}

{% macro build_state_table() -%}dbt_state.build_state{%- endmacro %}

{% macro changed_customers_table() -%}"changed__{{ this.identifier }}"{%- endmacro %}

{#- on-run-start (dbt_project.yml): created once, before the threads race to create it. -#}
{% macro ensure_build_state() %}
    create schema if not exists dbt_state;
    create table if not exists {{ build_state_table() }} (
        model varchar not null, loaded_through timestamp, as_of_date date,
        fingerprint varchar, rebuilt_customers bigint, built_at timestamp
    )
{% endmacro %}

{#- Everything the per-customer models read that is not keyed by customer, as one hash: the
    model's own SQL file (a new version of it rebuilds everything), the vars, the FX rates up to
    `as_of_expr` (rates of later days do not exist yet at the earlier build) and, for the models
    that read them (directly or through other models: customer_months through
    int_customer_months_subscriptions), the offers. -#}
{% macro build_fingerprint(as_of_expr) -%}
    {%- set reads_offers = [] -%}
    {%- for node in upstream_models(through_incremental=true) if node.name == 'stg_events__offers' -%}
        {%- do reads_offers.append(node.name) -%}
    {%- endfor -%}
    md5(concat_ws('|',
        '{{ model.checksum.checksum }}',
        '{{ var("reporting_currency") }}', '{{ var("reactivation_window_days") }}', '{{ var("dunning_window_days") }}',
        (select cast(coalesce(sum(hash(currency, rate_date, unit_rate)), 0) as varchar)
         from {{ ref('int_fx_rates_daily') }} where rate_date <= {{ as_of_expr }})
        {%- if reads_offers %},
        (select coalesce(cast(max(loaded_at) as varchar), '') from {{ source('raw', 'events') }}
         where event_type = 'offer.published')
        {%- endif %}
    ))
{%- endmacro %}

{#- The previous build of this model: none (rebuild everything) or a row with loaded_through and
    as_of_date, when the fingerprint still matches. -#}
{% macro previous_build() %}
    {% if not execute or not incremental_run() or var('as_of') is not none %}
        {{ return(none) }}
    {% endif %}
    {% set rows = run_query(
        "select cast(loaded_through as varchar), cast(as_of_date as varchar), "
        ~ "fingerprint = (" ~ build_fingerprint("state.as_of_date") ~ ") from "
        ~ build_state_table() ~ " as state where model = '" ~ this.identifier ~ "'"
    ).rows %}
    {% if rows | length == 0 or not rows[0][2] %}
        {{ return(none) }}
    {% endif %}
    {{ return({'loaded_through': rows[0][0], 'as_of_date': rows[0][1]}) }}
{% endmacro %}

{#- Raw events a build after `previous` sees and it did not: loaded since, or dated after its
    as-of date (an earlier build with an explicit `as_of` left those out). -#}
{% macro newly_visible_events(previous) -%}
    (loaded_at > cast('{{ previous.loaded_through }}' as timestamp)
     or cast(occurred_at as date) > cast('{{ previous.as_of_date }}' as date))
{%- endmacro %}

{#- The models this model reads, directly or through others; with through_incremental=false the
    walk stops at incremental models (they are returned, what they read is not). -#}
{% macro upstream_models(through_incremental) %}
    {%- set found = [] -%}
    {%- set seen = [] -%}
    {%- set queue = model.depends_on.nodes | list -%}
    {%- for node_id in queue if node_id not in seen -%}
        {%- do seen.append(node_id) -%}
        {%- set node = graph.nodes.get(node_id) -%}
        {%- if node and node.resource_type == 'model' -%}
            {%- do found.append(node) -%}
            {%- if through_incremental or node.config.materialized != 'incremental' -%}
                {%- do queue.extend(node.depends_on.nodes) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{% endmacro %}

{#- The event families (the type before the dot) that a model reads, through every model it
    depends on: a customer whose new events are all of other families has not changed for it
    (a Monday's weekly engagement reports touch most customers, but not their subscriptions). -#}
{% macro event_families() %}
    {%- set family_of = {
        'stg_events__coupons': 'coupon', 'stg_events__customers': 'customer',
        'stg_events__engagement': 'engagement', 'stg_events__offers': 'offer',
        'stg_events__payments': 'payment', 'stg_events__purchases': 'purchase',
        'stg_events__retention_actions': 'retention', 'stg_events__subscriptions': 'subscription',
        'stg_events__support': 'support',
    } -%}
    {%- set families = [] -%}
    {%- for node in upstream_models(through_incremental=true) if node.name.startswith('stg_events__') -%}
        {%- if node.name not in family_of -%}
            {{ exceptions.raise_compiler_error("event_families: no event family for " ~ node.name) }}
        {%- endif -%}
        {%- do families.append(family_of[node.name]) -%}
    {%- endfor -%}
    {{ return(families | unique | list) }}
{% endmacro %}

{% macro prepare_changed_customers() %}
    {%- if incremental_run() -%}
    {%- set previous = previous_build() -%}
    create or replace temporary table {{ changed_customers_table() }} as
    {% set weekly = config.get('changed_weeks_of') -%}
    {% if weekly -%}
    -- (customer, first week to rebuild): the weeks of the events that became visible
    select customer_id, min(cast({{ dbt.date_trunc('week', 'occurred_at') }} as date)) as changed_from
    from {{ source('raw', 'events') }}
    where customer_id is not null and event_type = '{{ weekly }}'
      {%- if previous is not none %} and {{ newly_visible_events(previous) }}{% endif %}
    group by customer_id
    {%- elif previous is none -%}
    select distinct customer_id from {{ source('raw', 'events') }} where customer_id is not null
    {%- else -%}
    {%- set recent = config.get('rebuild_recent') or {} %}
    select distinct customer_id from {{ source('raw', 'events') }}
    where customer_id is not null and {{ newly_visible_events(previous) }}
      and {{ dbt.split_part('event_type', "'.'", 1) }} in ('{{ event_families() | join("', '") }}')
      {%- if recent.get('forward_families') %}
      -- these families only change rows from the event's own month on: the recent scope has them
      and not ({{ dbt.split_part('event_type', "'.'", 1) }} in ('{{ recent.forward_families | join("', '") }}')
               and cast(occurred_at as date) >= {{ recent_cutoff(recent.days) }})
      {%- endif %}
    union
    -- a change scheduled after the previous as-of date that the as-of date has now reached
    select distinct customer_id from {{ ref('stg_events__subscriptions') }}
    cross join {{ ref('int_as_of') }} as as_of
    where customer_id is not null
      and (
          {%- for column in ['trial_ends_at', 'effective_at', 'period_start'] %}
          (cast({{ column }} as date) > cast('{{ previous.as_of_date }}' as date)
           and cast({{ column }} as date) <= as_of.as_of_date){{ ' or' if not loop.last }}
          {%- endfor %}
      )
    {%- endif %}
    {%- else -%}
    select 1
    {%- endif -%}
{% endmacro %}

{#- Models whose recent rows depend on the as-of date for every customer (labels still open,
    the as-of month) also rebuild the rows from the first month that starts `days` before the
    previous as-of date: config(rebuild_recent={'column': 'month', 'days': 90}). In a full build
    the cutoff is the beginning of time. New events of the families listed in
    rebuild_recent.forward_families, dated on or after the cutoff, do not make their customer
    "changed": such an event only changes rows from its own month on (no look-back), which the
    recent rows already rebuild. -#}
{% macro recent_cutoff(days) -%}
    {%- set previous = previous_build() -%}
    {%- if previous is none -%} cast('1900-01-01' as date)
    {%- else -%} cast({{ dbt.date_trunc('month', dbt.dateadd('day', -days, "cast('" ~ previous.as_of_date ~ "' as date)")) }} as date)
    {%- endif -%}
{%- endmacro %}

{#- `and <column> in (changed customers)` in an incremental run, nothing in a full one. -#}
{% macro changed_customers_only(column) -%}
    {%- if incremental_run() %} and {{ column }} in (select customer_id from {{ changed_customers_table() }}) {%- endif -%}
{%- endmacro %}

{#- For a model keyed by customer and week (config changed_weeks_of='<event type>'): in an
    incremental run, `and` the events of the changed customers from their first changed week on.
    The earliest such week is a literal, so that the scan skips older row groups. The columns
    must be qualified (the test correlates them with the changed table). -#}
{% macro changed_weeks_only(customer_column, time_column) -%}
    {%- if incremental_run() and execute -%}
    {%- set previous = previous_build() -%}
    {%- if previous is not none -%}
    {%- set earliest = run_query(
        "select cast(min(" ~ dbt.date_trunc('week', 'occurred_at') ~ ") as varchar) from "
        ~ source('raw', 'events') ~ " where event_type = '" ~ config.get('changed_weeks_of')
        ~ "' and " ~ newly_visible_events(previous)
    ).rows[0][0] -%}
    and {{ time_column }} >= cast('{{ earliest or "9999-12-31" }}' as timestamp)
    {%- endif %}
    and exists (
        select 1 from {{ changed_customers_table() }} as changed
        where changed.customer_id = {{ customer_column }}
          and {{ time_column }} >= changed.changed_from
    )
    {%- endif -%}
{%- endmacro %}

{% macro record_build_state(fingerprint=true) %}
    {%- if execute -%}
    {#- the incremental models this one reads, directly or through tables and views -#}
    {%- set upstream = [] -%}
    {%- for node in upstream_models(through_incremental=false) if node.config.materialized == 'incremental' -%}
        {%- do upstream.append(node.alias or node.name) -%}
    {%- endfor -%}
    delete from {{ build_state_table() }} where model = '{{ this.identifier }}';
    insert into {{ build_state_table() }}
    select
        '{{ this.identifier }}',
        -- least() skips the null of "no upstream state"
        least(
            (select max(loaded_at) from {{ source('raw', 'events') }}),
            (select min(loaded_through) from {{ build_state_table() }}
             where model in ('{{ upstream | join("', '") }}'))
        ),
        {%- if fingerprint %}
        {%- set as_of_date -%}
        -- never after an upstream model's: a partial run that skips an upstream model built at an
        -- earlier as-of date leaves its recent months to be rebuilt next time
        least(as_of.as_of_date, (select min(as_of_date) from {{ build_state_table() }}
                                 where model in ('{{ upstream | join("', '") }}')))
        {%- endset %}
        {{ as_of_date }},
        {{ build_fingerprint(as_of_date) }},
        {%- else %}
        null,
        null,
        {%- endif %}
        {%- if incremental_run() and fingerprint %}
        (select count(*) from {{ changed_customers_table() }}),
        {%- else %}
        null,
        {%- endif %}
        current_timestamp
    {%- if fingerprint %}
    from {{ ref('int_as_of') }} as as_of
    {%- endif -%}
    {%- endif -%}
{% endmacro %}

{#- Strategy: replace the rows of the changed customers. -#}
{% macro get_incremental_changed_customers_sql(arg_dict) %}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    {%- if config.get('changed_weeks_of') %}
    delete from {{ arg_dict['target_relation'] }} as target
    using {{ changed_customers_table() }} as changed
    where target.customer_id = changed.customer_id and target.week_start >= changed.changed_from;
    {%- else %}
    delete from {{ arg_dict['target_relation'] }}
    where customer_id in (select customer_id from {{ changed_customers_table() }})
    {%- set recent = config.get('rebuild_recent') %}
    {%- if recent %} or {{ recent.column }} >= {{ recent_cutoff(recent.days) }}{% endif %};
    {%- endif %}
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{% endmacro %}

{#- Customer x month models whose recent months depend on the as-of date for every customer: an
    incremental build is the union of the same SQL in two scopes,
      'recent'   every customer, the months from the rebuild cutoff on
      'changed'  the changed customers, the months before the cutoff
    and a full build the SQL in the scope 'all'. Such a model loops over build_scopes(), unions
    the scopes, and filters its month spine with months_in_scope(scope) and its customer-keyed
    inputs with customers_in_scope(scope). -#}
{% macro build_scopes() %}
    {{ return(['recent', 'changed'] if incremental_run() else ['all']) }}
{% endmacro %}

{% macro months_in_scope(scope, column='month') -%}
    {%- set days = config.get('rebuild_recent')['days'] -%}
    {%- if scope == 'recent' %} and {{ column }} >= {{ recent_cutoff(days) }}
    {%- elif scope == 'changed' %} and {{ column }} < {{ recent_cutoff(days) }}
    {%- endif -%}
{%- endmacro %}

{#- In the 'recent' scope, inputs that only count within a window before the month end can skip
    what lies more than `days` before the cutoff (a filter that the scan pushes down). -#}
{% macro recent_rows_only(scope, column, days) -%}
    {%- if scope == 'recent' %} and {{ column }} >= {{ dbt.dateadd('day', -days, recent_cutoff(config.get('rebuild_recent')['days'])) }}{% endif -%}
{%- endmacro %}

{% macro customers_in_scope(scope, column) -%}
    {%- if scope == 'changed' %}{{ changed_customers_only(column) }}{% endif -%}
{%- endmacro %}

{#- The configuration of a model incremental by customer, in one place:
        {{ incremental_by_customer() }}
        {{ incremental_by_customer(rebuild_recent={'column': 'month', 'days': 0}) }}
    The refs declare what the hooks read, so that dbt builds those models first. -#}
{% macro incremental_by_customer(rebuild_recent=none, post_hooks=[], changed_weeks_of=none) %}
    {%- do config(
        materialized='incremental',
        incremental_strategy='changed_customers',
        on_schema_change='sync_all_columns',
        rebuild_recent=rebuild_recent,
        changed_weeks_of=changed_weeks_of,
        pre_hook="{{ prepare_changed_customers() }}",
        post_hook=post_hooks + ["{{ record_build_state() }}"],
    ) -%}
    -- read by the hooks: {{ ref('int_fx_rates_daily') }} {{ ref('int_as_of') }} {{ ref('stg_events__subscriptions') }}
{%- endmacro %}
