{#-
  Staging tables of the big event families are incremental: an event is extracted from its JSON
  once, when its batch is loaded. raw.events is append-only and every batch has one loaded_at,
  later than the batches before it, so "loaded after the newest row here" is exactly the new
  batches. Late or out-of-order events are just new rows here; everything downstream is rebuilt
  from the full history, so the marts do not depend on arrival order.
-#}
{% macro new_events_only() -%}
    {%- if is_incremental() %}
      and loaded_at > (select coalesce(max(loaded_at), cast('1900-01-01' as timestamp)) from {{ this }})
    {%- endif %}
{%- endmacro %}
