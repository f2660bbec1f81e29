"""The studio page: six steps on one Gradio Blocks page, each also a named API endpoint.

The page's words follow the browser's language (or `?lang=zh` / the switch at the top). Long
steps run as background jobs whose state is read from files every two seconds, so a reload
finds them again. Errors reach the page as the CLI's own sentences, never a stack trace.
"""

from __future__ import annotations

import functools
import html
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from twin.errors import TwinError
from twin.progress import duration
from twin.studio import steps
from twin.studio.project import Project
from twin.studio.texts import LANGS, pick_lang, t

log = logging.getLogger("twin.studio")
LANG_LABELS = {"en": "English", "zh": "中文"}
CSS = """
.twin-trained { background: #fff3bf; border-radius: 4px; padding: 0 2px; }
.twin-turn { margin: 2px 0; }
.twin-error { color: #c92a2a; }
"""


@dataclass
class Words:
    """Components whose label (or value) is a text key, re-labelled when the language changes."""

    items: list[tuple[object, str, str]] = field(default_factory=list)

    def add(self, component, key: str, attr: str = "label"):
        if getattr(component, attr, None) in (None, "", "Run"):  # English until the page loads
            setattr(component, attr, t("en", key))
        self.items.append((component, key, attr))
        return component

    def updates(self, lang: str) -> list:
        import gradio as gr

        return [gr.update(**{attr: t(lang, key)}) for _, key, attr in self.items]

    @property
    def components(self) -> list:
        return [c for c, _, _ in self.items]


def error_md(message: str) -> str:
    return f"<span class='twin-error'>⚠ {html.escape(message)}</span>"


def guarded(fn: Callable) -> Callable:
    """A page handler whose user errors become a sentence; a bug is logged, not shown raw."""
    import gradio as gr

    def failure(e: Exception) -> gr.Error:
        if isinstance(e, TwinError):
            return gr.Error(str(e), print_exception=False)
        log.exception("studio step failed")
        return gr.Error(
            f"twin studio hit an unexpected problem ({type(e).__name__})", print_exception=False
        )

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as e:
                raise failure(e) from None

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as e:
            raise failure(e) from None

    return wrapper


def build_studio(project: Project, models: steps.Models | None = None):
    """The studio as a gr.Blocks, its queue set up."""
    import gradio as gr

    models = models or steps.Models()
    words = Words()
    with gr.Blocks(title="twin studio", analytics_enabled=False, fill_width=True) as demo:
        lang = gr.State("en")
        with gr.Row():
            words.add(gr.Markdown(t("en", "title")), "title", "value")
            switch = gr.Radio(
                [(LANG_LABELS[x], x) for x in LANGS],
                value="en",
                show_label=False,
                elem_id="twin-lang",
                container=False,
            )
        words.add(gr.Markdown(t("en", "intro")), "intro", "value")
        gr.Markdown(f"`{project.folder}`", elem_id="twin-project")
        with gr.Tabs():
            _step_messages(project, words, lang, demo)
            _step_dataset(project, words, lang, demo)
            train_outputs = _step_clone(project, words, lang)
            run_lists = _step_talk(project, words, lang, models)
            run_lists += _step_eval(project, words, lang)
            run_lists += _step_share(project, words, lang)
        _api(project, models)

        def set_lang(choice: str):
            return [choice, *words.updates(choice)]

        def on_load(request: gr.Request):
            chosen = pick_lang(
                request.headers.get("accept-language"), request.query_params.get("lang")
            )
            runs = steps.run_choices(project)
            refreshed = [
                gr.update(choices=runs, value=runs[0] if runs else None) for _ in run_lists
            ]
            return [chosen, gr.update(value=chosen), *words.updates(chosen), *refreshed]

        on_load.__annotations__ = {"request": gr.Request}  # a real class: Gradio injects it
        switch.change(set_lang, [switch], [lang, *words.components], api_visibility="private")
        demo.load(
            on_load, None, [lang, switch, *words.components, *run_lists], api_visibility="private"
        )
        timer = gr.Timer(2.0)
        timer.tick(
            train_outputs[0],
            [lang],
            train_outputs[1],
            api_visibility="private",
            show_progress="hidden",
        )
    demo.queue(default_concurrency_limit=2)
    return demo


# --- 1. your messages -------------------------------------------------------------------------


def _step_messages(project: Project, words: Words, lang, demo) -> None:
    import gradio as gr

    with gr.Tab(t("en", "step1"), id="messages") as tab:
        words.add(tab, "step1")
        words.add(gr.Markdown(t("en", "step1_help")), "step1_help", "value")
        with gr.Row():
            upload = words.add(
                gr.File(file_count="multiple", type="filepath", elem_id="twin-upload"), "upload"
            )
            folder = words.add(gr.Textbox(lines=1, elem_id="twin-folder"), "folder")
        read = words.add(gr.Button(variant="primary", elem_id="twin-read"), "read", "value")
        status = gr.Markdown(elem_id="twin-ingest-status")
        with gr.Group(visible=False) as me_group:
            words.add(gr.Markdown(t("en", "pick_me_help")), "pick_me_help", "value")
            me = words.add(gr.Radio(choices=[], elem_id="twin-me"), "pick_me")
            use_me = words.add(gr.Button(elem_id="twin-use-me"), "use_me", "value")
        table = words.add(
            gr.Dataframe(_frame([]), interactive=False, elem_id="twin-files"), "files_table"
        )
        # a reload shows what was read before
        demo.load(
            lambda: _frame((steps.saved(project, "ingest") or {}).get("files", [])),
            None,
            table,
            api_visibility="private",
        )

        def do_read(lang_now, files, folder_text, who=None):
            if files:
                steps.add_uploads(project, list(files))
            outcome = steps.ingest_exports(project, folder_text, who)
            if outcome.senders:
                choices = [(f"{name} ({n})", name) for name, n in outcome.senders[:30]]
                return (
                    error_md(outcome.error),
                    gr.update(visible=True),
                    gr.update(choices=choices, value=None),
                    gr.update(),
                )
            if not outcome.ok:
                return error_md(outcome.error), gr.update(visible=False), gr.update(), gr.update()
            mine = sum(r["by me"] for r in outcome.files)
            total = sum(r["messages"] for r in outcome.files)
            text = "✓ " + t(
                lang_now, "ingest_ok", messages=total, files=len(outcome.files), mine=mine
            )
            return text, gr.update(visible=False), gr.update(), _frame(outcome.files)

        outputs = [status, me_group, me, table]
        read.click(guarded(do_read), [lang, upload, folder], outputs, api_visibility="private")
        use_me.click(
            guarded(do_read), [lang, upload, folder, me], outputs, api_visibility="private"
        )


FILE_COLUMNS = ["file", "format", "chats", "messages", "by me", "skipped"]


def _frame(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame(rows, columns=FILE_COLUMNS)


# --- 2. your dataset --------------------------------------------------------------------------


def _step_dataset(project: Project, words: Words, lang, demo) -> None:
    import gradio as gr

    d = steps.build_defaults()
    with gr.Tab(t("en", "step2"), id="dataset") as tab:
        words.add(tab, "step2")
        words.add(gr.Markdown(t("en", "step2_help")), "step2_help", "value")
        with gr.Row():
            name = words.add(gr.Textbox(value=d["name"] or "", elem_id="twin-name"), "name")
            gap = words.add(gr.Number(value=d["session_gap_minutes"], minimum=1), "session_gap")
            min_reply = words.add(
                gr.Number(value=d["min_reply_chars"], minimum=0, precision=0), "min_reply"
            )
        with gr.Row():
            groups = words.add(gr.Checkbox(value=d["groups"]), "groups")
            block = words.add(
                gr.Textbox(value=", ".join(d["block"]), elem_id="twin-block"), "block"
            )
        build = words.add(gr.Button(variant="primary", elem_id="twin-build"), "build", "value")
        status = gr.Markdown(elem_id="twin-build-status")
        charts = words.add(gr.Gallery(columns=3, height="auto", elem_id="twin-charts"), "charts")
        samples = gr.HTML(elem_id="twin-samples")

        def do_build(lang_now, name_v, gap_v, min_v, groups_v, block_v, progress=gr.Progress()):  # noqa: B008 (Gradio injects it)
            progress(None, desc=t(lang_now, "working"))
            stats = steps.build_dataset(
                project,
                {
                    "name": name_v or None,
                    "session_gap_minutes": gap_v,
                    "min_reply_chars": min_v,
                    "groups": bool(groups_v),
                    "block": block_v,
                },
            )
            return (
                _build_summary(lang_now, stats),
                steps.dataset_charts(project),
                _samples_html(lang_now, project),
            )

        def shown(lang_now):
            stats = (
                project.read_json(project.dataset / "stats.json") if project.has_dataset() else None
            )
            if stats is None:
                return "", [], ""
            return (
                _build_summary(lang_now, stats),
                steps.dataset_charts(project),
                _samples_html(lang_now, project),
            )

        demo.load(shown, [lang], [status, charts, samples], api_visibility="private")
        build.click(
            guarded(do_build),
            [lang, name, gap, min_reply, groups, block],
            [status, charts, samples],
            api_visibility="private",
        )


def _build_summary(lang: str, stats: dict) -> str:
    m, s = stats["messages"], stats["samples"]
    lines = [
        "✓ "
        + t(
            lang,
            "build_ok",
            samples=s["total"],
            train=s["train"],
            dev=s["dev"],
            input=m["input"],
            used=m["used"],
        )
    ]
    if m.get("dropped"):
        lines += [
            "",
            f"**{t(lang, 'dropped')}**",
            "",
            f"| {t(lang, 'reason')} | {t(lang, 'messages')} |",
            "|---|---:|",
        ]
        lines += [f"| {html.escape(str(k))} | {v} |" for k, v in m["dropped"].items()]
    if stats.get("redactions"):
        lines += [
            "",
            f"**{t(lang, 'redacted')}**: "
            + ", ".join(f"{k} {v}" for k, v in stats["redactions"].items()),
        ]
    return "\n".join(lines)


def _samples_html(lang: str, project: Project) -> str:
    parts = [f"<p><b>{html.escape(t(lang, 'samples'))}</b></p>"]
    for conv in steps.sample_conversations(project):
        parts.append(
            "<div style='border:1px solid #ddd;border-radius:6px;padding:6px;margin:6px 0'>"
        )
        for turn in conv:
            text = html.escape(turn["content"]).replace("\n", "<br>")
            cls = " twin-trained" if turn["role"] == "assistant" else ""
            parts.append(
                f"<div class='twin-turn'><small>{turn['role']}</small> <span class='{cls.strip()}'>{text}</span></div>"
            )
        parts.append("</div>")
    return "".join(parts)


# --- 3. your clone ----------------------------------------------------------------------------


def _step_clone(project: Project, words: Words, lang):
    import gradio as gr

    with gr.Tab(t("en", "step3"), id="clone") as tab:
        words.add(tab, "step3")
        words.add(gr.Markdown(t("en", "step3_help")), "step3_help", "value")
        choices = steps.base_choices()
        with gr.Row():
            base = words.add(
                gr.Dropdown(choices=choices, value=choices[0][1], elem_id="twin-base"), "base"
            )
            other = words.add(gr.Textbox(elem_id="twin-base-other"), "base_other")
            method = words.add(gr.Radio(["lora", "ptuning", "qlora"], value="lora"), "method")
        with gr.Row():
            epochs = words.add(gr.Number(value=1.0, minimum=0.1), "epochs")
            max_steps = words.add(
                gr.Number(value=0, minimum=0, precision=0, elem_id="twin-steps"), "steps"
            )
        with gr.Row():
            start = words.add(gr.Button(variant="primary", elem_id="twin-start"), "start", "value")
            stop = words.add(gr.Button(elem_id="twin-stop"), "stop", "value")
            resume = words.add(gr.Button(elem_id="twin-resume"), "resume", "value")
        status = gr.Markdown(elem_id="twin-train-status")
        plot = words.add(
            gr.Image(type="filepath", interactive=False, height=320, elem_id="twin-loss"), "loss"
        )
        logbox = gr.Code(language=None, lines=6, interactive=False, elem_id="twin-train-log")

        def do_start(lang_now, base_v, other_v, method_v, epochs_v, steps_v, resume_run=False):
            spec = (other_v or "").strip() or base_v
            steps.start_training(
                project, spec, method_v, epochs_v, int(steps_v or 0), resume=resume_run
            )
            return show(lang_now)

        def do_resume(lang_now, base_v, other_v, method_v, epochs_v, steps_v):
            return do_start(lang_now, base_v, other_v, method_v, epochs_v, steps_v, resume_run=True)

        def do_stop(lang_now):
            steps.stop_training(project)
            return show(lang_now)

        def show(lang_now):
            st = steps.training_status(project)
            return (
                _train_md(lang_now, st),
                steps.loss_chart(project, st.get("run")),
                st.get("log") or "",
            )

        inputs = [lang, base, other, method, epochs, max_steps]
        outputs = [status, plot, logbox]
        start.click(guarded(do_start), inputs, outputs, api_visibility="private")
        resume.click(guarded(do_resume), inputs, outputs, api_visibility="private")
        stop.click(guarded(do_stop), [lang], outputs, api_visibility="private")
    return show, outputs


def _train_md(lang: str, st: dict) -> str:
    state, run = st["state"], st.get("run") or "run"
    if state == "none" and not st["metrics"]:
        return t(lang, "state_none")
    key = {
        "running": "state_running",
        "done": "state_done",
        "stopped": "state_stopped",
        "failed": "state_failed",
        "lost": "state_lost",
    }.get(state, "state_done")
    head = t(lang, key, run=run, step=st.get("step", 0), total=st.get("total") or "?")
    if state == "running":
        head = "⏳ " + head
    if st.get("loss") is not None:
        tps = f"{st.get('tokens_per_s') or 0:.0f}"
        if state == "running":
            eta = duration(st["eta_s"]) if st.get("eta_s") is not None else "?"
            head += "\n\n" + t(lang, "speed", loss=f"{st['loss']:.3f}", tps=tps, eta=eta)
        else:
            head += "\n\n" + t(lang, "speed_done", loss=f"{st['loss']:.3f}", tps=tps)
    if state == "failed" and st.get("log"):
        head += "\n\n" + error_md(st["log"].splitlines()[-1])
    return head


# --- 4. talk to it ----------------------------------------------------------------------------


def _step_talk(project: Project, words: Words, lang, models: steps.Models) -> list:
    import gradio as gr

    with gr.Tab(t("en", "step4"), id="talk") as tab:
        words.add(tab, "step4")
        with gr.Row():
            run = words.add(gr.Dropdown(choices=[], elem_id="twin-run"), "run")
            compare = words.add(
                gr.Dropdown(choices=["none", "base"], value="base", elem_id="twin-compare"),
                "compare",
            )
            temp = words.add(gr.Slider(0.0, 1.5, value=0.7, step=0.05), "temperature")
            refresh = words.add(gr.Button(size="sm"), "refresh", "value")
        with gr.Row():
            left = gr.Chatbot(height=360, elem_id="twin-chat-a", label="twin")
            right = gr.Chatbot(height=360, elem_id="twin-chat-b", label="base")
        with gr.Row():
            msg = words.add(gr.Textbox(scale=5, elem_id="twin-message"), "message")
            send = words.add(
                gr.Button(variant="primary", scale=1, elem_id="twin-send"), "send", "value"
            )
            clear = words.add(gr.Button(scale=1), "clear", "value")

        def do_send(message, a, b, run_v, compare_v, temp_v):
            text = (message or "").strip()
            run_v = _pick_run(project, run_v)
            if not text:
                yield "", a, b
                return
            a = [*(a or []), {"role": "user", "content": text}]
            b = [*(b or []), {"role": "user", "content": text}]
            hist_a = [{"role": m["role"], "content": _content(m)} for m in a]
            for reply in steps.reply_stream(models, project, f"run:{run_v}", hist_a, temp_v):
                yield "", [*a, {"role": "assistant", "content": reply}], b
            a = [*a, {"role": "assistant", "content": reply if hist_a else ""}]
            if compare_v and compare_v != "none":
                spec = _compare_spec(project, run_v, compare_v)
                hist_b = [{"role": m["role"], "content": _content(m)} for m in b]
                reply_b = ""
                for reply_b in steps.reply_stream(models, project, spec, hist_b, temp_v):
                    yield "", a, [*b, {"role": "assistant", "content": reply_b}]
                b = [*b, {"role": "assistant", "content": reply_b}]
            yield "", a, b

        def do_refresh():
            runs = steps.run_choices(project)
            return _runs_update(project), gr.update(choices=["none", "base", *runs])

        send.click(
            guarded(do_send),
            [msg, left, right, run, compare, temp],
            [msg, left, right],
            api_visibility="private",
        )
        msg.submit(
            guarded(do_send),
            [msg, left, right, run, compare, temp],
            [msg, left, right],
            api_visibility="private",
        )
        clear.click(lambda: ([], []), None, [left, right], api_visibility="private")
        refresh.click(do_refresh, None, [run, compare], api_visibility="private")
        tab.select(do_refresh, None, [run, compare], api_visibility="private")
    return [run]


def _pick_run(project: Project, chosen: str | None) -> str:
    """The chosen run, or the newest when none is chosen yet (the list may not have refreshed)."""
    if chosen:
        return chosen
    runs = steps.run_choices(project)
    if not runs:
        raise TwinError("no trained clone yet: train one in step 3")
    return runs[0]


def _runs_update(project: Project):
    """The run list, newest first, the newest selected."""
    import gradio as gr

    runs = steps.run_choices(project)
    return gr.update(choices=runs, value=runs[0] if runs else None)


def _content(message: dict) -> str:
    from twin.serve.page import message_text

    return message_text(message.get("content"))


def _compare_spec(project: Project, run: str, compare: str) -> str:
    if compare == "base":
        return f"base:{steps.base_of_run(project, run)}"
    return f"run:{compare}"


# --- 5. how much it sounds like you -----------------------------------------------------------


def _step_eval(project: Project, words: Words, lang) -> list:
    import gradio as gr

    with gr.Tab(t("en", "step5"), id="eval") as tab:
        words.add(tab, "step5")
        words.add(gr.Markdown(t("en", "step5_help")), "step5_help", "value")
        with gr.Row():
            run = words.add(gr.Dropdown(choices=[], elem_id="twin-eval-run"), "run")
            n = words.add(gr.Number(value=20, minimum=1, maximum=500, precision=0), "eval_samples")
            go = words.add(
                gr.Button(variant="primary", elem_id="twin-evaluate"), "evaluate", "value"
            )
        status = gr.Markdown(elem_id="twin-eval-status")
        result = gr.HTML(elem_id="twin-eval-result")

        def do_eval(lang_now, run_v, n_v, progress=gr.Progress()):  # noqa: B008 (Gradio injects it)
            run_v = _pick_run(project, run_v)
            steps.start_eval(project, run_v, int(n_v or 20))
            steps.finish(
                project, "eval", lambda tail: progress(None, desc=tail or t(lang_now, "working"))
            )
            return "✓", _eval_html(steps.eval_result(project))

        go.click(guarded(do_eval), [lang, run, n], [status, result], api_visibility="private")
        tab.select(lambda: _runs_update(project), None, [run], api_visibility="private")
    return [run]


def _eval_html(report: dict | None) -> str:
    if not report:
        return ""
    keys = [m["key"] for m in report.get("metrics", [])]
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    rows = []
    for s in report.get("systems", []):
        cells = "".join(f"<td>{_num(s.get(k))}</td>" for k in keys)
        rows.append(f"<tr><td>{html.escape(str(s.get('label', '')))}</td>{cells}</tr>")
    table = f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"
    samples = []
    for item in report.get("samples", [])[:5]:
        prompt = html.escape(str(item.get("prompt") or ""))[:400]
        replies = {"you (real reply)": item.get("reference", ""), **(item.get("replies") or {})}
        lis = "".join(
            f"<li><b>{html.escape(str(k))}</b>: {html.escape(str(v))}</li>"
            for k, v in replies.items()
        )
        samples.append(f"<div><p>{prompt}</p><ul>{lis}</ul></div>")
    return table + "".join(samples)


def _num(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else html.escape(str(v if v is not None else "–"))


# --- 6. share it ------------------------------------------------------------------------------


def _step_share(project: Project, words: Words, lang) -> list:
    import gradio as gr

    with gr.Tab(t("en", "step6"), id="share") as tab:
        words.add(tab, "step6")
        words.add(gr.Markdown(t("en", "step6_help")), "step6_help", "value")
        with gr.Row():
            run = words.add(gr.Dropdown(choices=[], elem_id="twin-share-run"), "run")
            host = words.add(gr.Radio(["127.0.0.1", "0.0.0.0"], value="127.0.0.1"), "host")
            port = words.add(
                gr.Number(value=7861, precision=0, minimum=1024, maximum=65535), "port"
            )
            key = words.add(gr.Textbox(type="password", elem_id="twin-share-key"), "key")
        with gr.Row():
            share = words.add(gr.Button(variant="primary", elem_id="twin-share"), "share", "value")
            unshare = words.add(gr.Button(), "unshare", "value")
        share_status = gr.Markdown(elem_id="twin-share-status")
        with gr.Row():
            kind = words.add(
                gr.Radio(list(steps.EXPORT_KINDS), value="space", elem_id="twin-export-kind"),
                "export_kind",
            )
            export = words.add(gr.Button(elem_id="twin-export"), "export", "value")
            notebook = words.add(gr.Button(elem_id="twin-notebook"), "notebook", "value")
        export_status = gr.Markdown(elem_id="twin-export-status")
        download = words.add(gr.File(interactive=False, elem_id="twin-download"), "download")

        def do_share(lang_now, run_v, host_v, port_v, key_v):
            run_v = _pick_run(project, run_v)
            url = steps.start_sharing(project, run_v, host_v, int(port_v), key_v or None)
            return "⏳ " + t(lang_now, "sharing", run=run_v, url=f"[{url}]({url})")

        def do_unshare():
            steps.job(project, "serve").stop(10)
            return ""

        def do_export(lang_now, run_v, kind_v, progress=gr.Progress()):  # noqa: B008 (Gradio injects it)
            run_v = _pick_run(project, run_v)
            steps.start_export(project, run_v, kind_v)
            steps.finish(
                project, "export", lambda tail: progress(None, desc=tail or t(lang_now, "working"))
            )
            return "✓", steps.export_download(project)

        def do_notebook(progress=gr.Progress()):  # noqa: B008 (Gradio injects it)
            progress(None)
            return "✓", steps.notebook_bundle(project)

        share.click(
            guarded(do_share),
            [lang, run, host, port, key],
            [share_status],
            api_visibility="private",
        )
        unshare.click(guarded(do_unshare), None, [share_status], api_visibility="private")
        export.click(
            guarded(do_export),
            [lang, run, kind],
            [export_status, download],
            api_visibility="private",
        )
        notebook.click(
            guarded(do_notebook), None, [export_status, download], api_visibility="private"
        )
        tab.select(lambda: _runs_update(project), None, [run], api_visibility="private")
    return [run]


# --- the named API (for scripts and tests: gradio_client) ------------------------------------


def _api(project: Project, models: steps.Models) -> None:
    import gradio as gr

    def ingest(folder: str = "", me: str = "") -> dict:
        """Read the exports uploaded to the project (and a folder on this machine)."""
        o = steps.ingest_exports(project, folder, me or None)
        return {"ok": o.ok, "files": o.files, "senders": o.senders, "error": o.error}

    def build(settings: dict) -> dict:
        """Build the dataset with these settings (name, session_gap_minutes, groups, …)."""
        return steps.build_dataset(project, settings or {})

    def train(
        base: str = "",
        method: str = "lora",
        epochs: float = 1.0,
        max_steps: int = 0,
        resume: bool = False,
    ) -> dict:
        """Start (or resume) training in the background; returns the run's name."""
        return {"run": steps.start_training(project, base, method, epochs, max_steps, resume)}

    def train_status() -> dict:
        """State, step, total, loss, tokens/s, ETA and the metrics of the newest run."""
        return steps.training_status(project)

    def stop_train() -> dict:
        return {"stopped": steps.stop_training(project)}

    def chat(message: str, history: list, model: str = "", temperature: float = 0.7) -> str:
        # (the return hint is what Gradio's API describes: each streamed value is the reply so far)
        """Stream a reply: model is a run name (default: the newest) or 'base:SPEC'."""
        spec = (
            model
            if model.startswith("base:")
            else f"run:{model or (steps.run_choices(project) or [''])[0]}"
        )
        turns = [{"role": m["role"], "content": str(m["content"])} for m in (history or [])]
        turns.append({"role": "user", "content": message})
        yield from steps.reply_stream(models, project, spec, turns, temperature)

    def runs() -> list:
        """Trained runs and their checkpoints, newest first."""
        return steps.run_choices(project)

    def evaluate(run: str, samples: int = 20) -> dict:
        """Run `twin eval` on a run against its untuned base; returns eval.json."""
        steps.start_eval(project, run, samples)
        return steps.finish(project, "eval") and steps.eval_result(project) or {}

    def export(run: str, kind: str = "space") -> str:
        """Export a run (space, gguf or ollama); returns the path of the zip to download."""
        steps.start_export(project, run, kind)
        steps.finish(project, "export")
        return steps.export_download(project) or ""

    for fn in (ingest, build, train, train_status, stop_train, chat, runs, evaluate, export):
        gr.api(guarded(fn), api_name=fn.__name__)
