{#- RFC 3339 text (with offset or `Z`) -> naive UTC timestamp.
    A plain cast to timestamp would drop the offset in DuckDB, so go through timestamptz. -#}
{% macro to_utc_timestamp(expr) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'churniq')(expr)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(expr) -%}
    (cast({{ expr }} as timestamp with time zone) at time zone 'UTC')
{%- endmacro %}

{% macro duckdb__to_utc_timestamp(expr) -%}
    timezone('UTC', cast({{ expr }} as timestamptz))
{%- endmacro %}
