{#- Top-level fields of the JSON payload as text columns named after the fields.
    DuckDB parses each document once (json_transform to a struct, unnested into columns); a
    `->>` per field would parse the same document once per field, 2-3x slower on the big
    families. Other databases get one `->>` per field. -#}
{% macro json_columns(column, fields) -%}
    {{ return(adapter.dispatch('json_columns', 'churniq')(column, fields)) }}
{%- endmacro %}

{% macro default__json_columns(column, fields) -%}
    {%- for field in fields %}{{ json_text(column, field) }} as {{ adapter.quote(field) }}{{ ', ' if not loop.last }}{% endfor -%}
{%- endmacro %}

{% macro duckdb__json_columns(column, fields) -%}
    unnest(json_transform({{ column }}, '{
        {%- for field in fields %}"{{ field }}":"VARCHAR"{{ ',' if not loop.last }}{% endfor -%}
    }'))
{%- endmacro %}
