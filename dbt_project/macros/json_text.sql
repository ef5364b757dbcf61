{#- Text value of a top-level field of the JSON payload (`data->>'field'`). -#}
{% macro json_text(column, field) -%}
    {{ return(adapter.dispatch('json_text', 'churniq')(column, field)) }}
{%- endmacro %}

{% macro default__json_text(column, field) -%}
    {{ column }}->>'{{ field }}'
{%- endmacro %}
