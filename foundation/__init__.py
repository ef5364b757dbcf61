"""The base of churniq, imported by every part and importing none of them: the event contract
(`foundation.contract`), the one settings object (`foundation.settings`), the layout of the home
folder (`foundation.home`), the replay-request files the dashboards hand to the pipeline
(`foundation.replay_requests`) and the vocabulary shared by dbt, the app and the checks
(`foundation.vocabulary`)."""
