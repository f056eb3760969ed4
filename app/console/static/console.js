// classy-sync admin console: fills the server-rendered pages from the public JSON API (API.md §3).
// No framework, no build step. Every value from the API is inserted as text, never as HTML.
"use strict";

(() => {
  const TOKEN_KEY = "classy-sync.console.token";
  const AUTHORIZE_KEY = "classy-sync.console.authorize-url";
  const API = "/api/v1";
  const APP = `${API}/apps/classy`;
  const FAST_POLL_MS = 1500; // while a sync runs
  const SLOW_POLL_MS = 10000;

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- small helpers

  /** el("td", {class: "num"}, "text", otherNode): children are text or nodes, never HTML. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** Copies each column heading onto its cells (data-label), so rows can stack at phone width. */
  function labelCells(tbody) {
    const headings = [...tbody.closest("table").querySelectorAll("thead th")].map((th) => th.textContent.trim());
    for (const row of tbody.rows) {
      [...row.cells].forEach((cell, index) => cell.setAttribute("data-label", headings[index] || ""));
    }
  }

  function show(node, visible) {
    if (node) node.hidden = !visible;
  }

  function fmtTime(iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return iso;
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
  }

  function timeNode(iso) {
    return iso ? el("time", { datetime: iso, title: iso }, fmtTime(iso)) : "—";
  }

  function fmtNum(value) {
    return Number(value || 0).toLocaleString();
  }

  function fmtDuration(startIso, endIso) {
    if (!startIso) return "—";
    const end = endIso ? new Date(endIso) : new Date();
    let seconds = Math.max(0, Math.round((end - new Date(startIso)) / 1000));
    if (seconds < 60) return `${seconds} s`;
    const minutes = Math.floor(seconds / 60);
    seconds %= 60;
    if (minutes < 60) return `${minutes} min ${seconds} s`;
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  function humanize(text) {
    const words = String(text || "").replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function who(sub, name) {
    if (!sub) return "—";
    return name && name !== sub ? `${name} (${sub})` : sub;
  }

  const STREAM_LABELS = {
    campaigns: "Campaigns",
    designations: "Designations",
    fundraising_teams: "Fundraising teams",
    fundraising_pages: "Fundraising pages",
    supporters: "Supporters",
    recurring_donation_plans: "Recurring plans",
    transactions: "Transactions",
    registrations: "Registrations",
  };

  /** A run's streams in the order a sync reads them (the API's object order is not that). */
  function orderedStreams(streams) {
    const known = Object.keys(STREAM_LABELS);
    const rank = (name) => (known.includes(name) ? known.indexOf(name) : known.length);
    return Object.entries(streams || {}).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
  }

  // ---------------------------------------------------------------- flash messages

  function flash(message, kind = "info") {
    const box = $("flash");
    box.replaceChildren(el("span", {}, message));
    box.className = `flash flash-${kind}`;
    box.setAttribute("role", kind === "error" ? "alert" : "status");
    box.hidden = false;
  }

  function clearFlash() {
    const box = $("flash");
    box.hidden = true;
    box.replaceChildren();
  }

  // ---------------------------------------------------------------- token and API

  function takeTokenFromFragment() {
    const fragment = location.hash.replace(/^#/, "");
    if (!fragment) return;
    const params = new URLSearchParams(fragment);
    const value = params.get("token");
    if (value === null) return;
    if (value.trim()) sessionStorage.setItem(TOKEN_KEY, value.trim());
    params.delete("token");
    const rest = params.toString();
    // The token must not stay in the address bar, the history or a bookmark.
    history.replaceState(history.state, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
  }

  function currentToken() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function claimsOf(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const padded = part + "=".repeat((4 - (part.length % 4)) % 4);
      const json = new TextDecoder().decode(Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)));
      return JSON.parse(json);
    } catch {
      return null;
    }
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.detail) || `The service answered ${status}.`);
      this.status = status;
      this.code = (body && body.code) || "error";
    }
  }

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${currentToken()}`, Accept: "application/json" };
    const init = { method, headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, { detail: "The service cannot be reached. Is it running?", code: "network" });
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (response.status === 401) {
      const error = new ApiError(401, data);
      signOut(`Your token was not accepted: ${error.message} Paste a new one.`);
      throw error;
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== "") search.set(key, value);
    }
    const text = search.toString();
    return text ? `?${text}` : "";
  }

  // ---------------------------------------------------------------- sign-in

  let stopPage = () => {};

  function showSignIn(message) {
    stopPage();
    show($("content"), false);
    show($("who"), false);
    show($("signin"), true);
    const error = $("token-error");
    error.textContent = message || "";
    error.hidden = !message;
    $("token-input").focus();
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignIn(message);
  }

  function wireSignIn() {
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("token-input").value.trim().replace(/^bearer\s+/i, "");
      if (value.split(".").length !== 3 || !claimsOf(value)) {
        showSignIn("That does not look like a bearer token (three dot-separated parts).");
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, value);
      $("token-input").value = "";
      location.reload(); // a clean start of the page with the new token
    });
    $("sign-out").addEventListener("click", () => signOut("Signed out. The token was removed from this tab."));
  }

  function showWho(claims) {
    const role = claims.role === "admin" ? "admin" : `${claims.role || "member"} (read-only)`;
    $("who-text").textContent = `${claims.name || claims.sub} · ${claims.account} · ${role}`;
    show($("who"), true);
  }

  // ---------------------------------------------------------------- App Directory

  const APP_INFO = {
    classy: {
      logo: "C",
      description:
        "GoFundMe Pro (Classy): sync supporters, donations and event registrants into your CRM as " +
        "contacts and donations, and keep them current.",
    },
  };

  async function directoryPage() {
    const list = $("apps");
    const apps = await api("GET", `${API}/apps`);
    const template = $("app-card-template");
    list.replaceChildren();
    for (const app of apps) {
      const card = template.content.firstElementChild.cloneNode(true);
      const info = APP_INFO[app.slug] || { logo: app.name.charAt(0), description: "" };
      card.id = `card-${app.slug}`;
      card.querySelector(".app-logo").textContent = info.logo;
      card.querySelector(".app-name").textContent = app.name;
      card.querySelector(".app-description").textContent = info.description;
      const badge = card.querySelector(".badge");
      badge.hidden = !app.badge;
      badge.textContent = app.badge || "";
      badge.className = `badge badge-${(app.badge || "").toLowerCase()}`;
      const learn = card.querySelector(".learn-more");
      learn.href = `/console/apps/${encodeURIComponent(app.slug)}`;
      learn.setAttribute("aria-label", `Learn more about ${app.name}`);
      const connect = card.querySelector(".connect");
      connect.hidden = !["available", "disconnected"].includes(app.status);
      connect.setAttribute("aria-label", `Connect ${app.name}`);
      connect.addEventListener("click", async () => {
        connect.disabled = true;
        try {
          await api("POST", `${API}/apps/${encodeURIComponent(app.slug)}/connect`);
          location.assign(`/console/apps/${encodeURIComponent(app.slug)}`);
        } catch (error) {
          connect.disabled = false;
          flash(error.message, "error");
        }
      });
      list.append(card);
    }
    list.setAttribute("aria-busy", "false");
  }

  // ---------------------------------------------------------------- Classy App Settings

  const CALLBACK_ERRORS = {
    invalid_state:
      "The Classy login could not be matched to a pending connection (it was used already, or the " +
      "settings changed meanwhile). Save the credentials again and log in once more.",
    expired_state: "The Classy login took longer than 10 minutes. Save the credentials again and retry.",
    access_denied: "Access was denied in Classy, so nothing was connected.",
    authorization_failed: "Classy reported an error during the login; nothing was connected.",
    invalid_code: "Classy returned no authorization code; nothing was connected.",
  };

  const ACTION_LABELS = {
    connect: "Connect",
    save_credentials: "Saved credentials",
    credentials_rejected: "Credentials rejected",
    authorize: "Authorized in Classy",
    pause: "Paused",
    resume: "Resumed",
    disconnect: "Disconnected",
    reconnect: "Reconnected",
    sync: "Sync requested",
    webhook_configured: "Webhook secret saved",
    webhook_removed: "Webhook removed",
  };

  /** The Classy page's Webhook section: the URL to paste into Classy, the signing secret, the last event. */
  function webhookSection(isAdmin) {
    const WEBHOOK = `${APP}/webhook`;
    let shown = null;

    function render(hook) {
      shown = hook;
      show($("webhook"), Boolean(hook));
      if (!hook) return;
      $("webhook-url").value = hook.url;
      $("webhook-status").textContent = !hook.configured
        ? "Not active yet: save the signing secret to start receiving events."
        : hook.last_event_at
          ? `Active. Last event received ${fmtTime(hook.last_event_at)}.`
          : "Active. No event received yet.";
      show($("webhook-form"), isAdmin);
      show($("remove-webhook"), isAdmin && hook.configured);
      $("save-webhook").textContent = hook.configured ? "Replace signing secret" : "Save signing secret";
    }

    async function refresh(status) {
      // Offered once connected (the URL must belong to a connected integration to be of use).
      if (!["connected", "paused", "error"].includes(status)) return render(null);
      try {
        render(await api("GET", WEBHOOK));
      } catch (error) {
        if (error.status === 404) render(null); // not connected yet
        else throw error;
      }
    }

    $("webhook-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = $("webhook-secret");
      const secret = input.value.trim();
      const box = $("webhook-error");
      box.hidden = true;
      if (!secret.startsWith("whsec_")) {
        box.textContent = "Paste the signing secret Classy shows for the endpoint; it starts with whsec_.";
        box.hidden = false;
        return input.focus();
      }
      input.value = ""; // the secret leaves the field now, whatever the answer
      try {
        render(await api("PUT", WEBHOOK, { secret }));
        flash("Webhook signing secret saved: Classy's events now start a sync within seconds.", "success");
      } catch (error) {
        if (error.status === 401) return;
        box.textContent = error.message;
        box.hidden = false;
      }
    });
    $("remove-webhook").addEventListener("click", async () => {
      if (!window.confirm("Remove the webhook? Classy's events are refused until a new one is set up.")) return;
      try {
        await api("DELETE", WEBHOOK);
        flash("Webhook removed. Remove the endpoint in Classy too.", "success");
        await refresh("connected");
      } catch (error) {
        if (error.status !== 401) flash(error.message, "error");
      }
    });
    $("copy-webhook").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText($("webhook-url").value);
        $("webhook-status").textContent = "Copied the webhook URL to the clipboard.";
      } catch {
        $("webhook-url").select();
      }
    });
    return { refresh, get: () => shown };
  }

  function handleCallbackQuery() {
    const params = new URLSearchParams(location.search);
    if (!params.has("connected") && !params.has("error")) return;
    if (params.get("connected") === "1") {
      sessionStorage.removeItem(AUTHORIZE_KEY);
      flash("Classy login completed: the integration is connected and the first sync has started.", "success");
    } else {
      const code = params.get("error") || "error";
      flash(CALLBACK_ERRORS[code] || `The Classy login failed (${code}); nothing was changed.`, "error");
    }
    history.replaceState(history.state, "", location.pathname + location.hash);
  }

  function classyPage() {
    const isAdmin = (claimsOf(currentToken()) || {}).role === "admin";
    let integration = null;
    let runs = [];
    let runsLimit = 10;
    let eventsLimit = 10;
    let timer = null;
    let stopped = false;
    let prefilledFor = null;
    let wasRunning = false;

    const BANNERS = {
      available: ["info", "Not connected", "Connect to sync this CRM account with a Classy organization."],
      awaiting_credentials: [
        "info",
        "Finish connecting",
        "Register the redirect URI in Classy, then save the app's credentials below.",
      ],
      awaiting_authorization: [
        "info",
        "Waiting for the Classy login",
        "Log in to Classy to authorize the app; you come back here afterwards.",
      ],
    };

    function bannerFor(it) {
      const status = it.status;
      if (status === "connected") {
        const sync = it.sync_running
          ? "A sync is running now."
          : it.last_synced_at
            ? `Last synced ${fmtTime(it.last_synced_at)}.`
            : "The first sync starts shortly.";
        return ["success", "Connected", `Organization ${it.organization_id}. ${sync}`];
      }
      if (status === "paused") {
        return [
          "warning",
          "Connection Paused",
          `Paused by ${who(it.paused_by, it.paused_by_name)} on ${fmtTime(it.paused_at)}. Nothing is ` +
            "fetched until you resume; changes made meanwhile are picked up then.",
        ];
      }
      if (status === "disconnected") {
        return [
          "muted",
          "Disconnected",
          `Disconnected by ${who(it.disconnected_by, it.disconnected_by_name)} on ` +
            `${fmtTime(it.disconnected_at)}. The stored credentials were erased; synced data stays. ` +
            "Enter credentials below to reconnect.",
        ];
      }
      if (status === "error") {
        return ["error", "Error", it.last_error || "The last sync failed; it is retried automatically."];
      }
      return BANNERS[status] || ["info", humanize(status), ""];
    }

    function fact(label, value) {
      return [el("dt", {}, label), el("dd", {}, value)];
    }

    function render() {
      const it = integration;
      const status = it.status;
      const badge = $("classy-badge");
      badge.hidden = !it.badge;
      badge.textContent = it.badge || "";
      badge.className = `badge badge-${(it.badge || "").toLowerCase()}`;

      const [kind, title, text] = bannerFor(it);
      const banner = $("status-banner");
      banner.className = `banner banner-${kind}`;
      banner.dataset.status = status;
      $("banner-title").textContent = title;
      $("banner-text").textContent = text;
      banner.hidden = false;

      const facts = [fact("Status", humanize(status))];
      if (it.organization_id) facts.push(fact("Organization ID", String(it.organization_id)));
      if (it.client_id) facts.push(fact("Client ID", it.client_id));
      if (it.connected_at) {
        facts.push(fact("Connected by", who(it.connected_by, it.connected_by_name)));
        facts.push(fact("Connected at", timeNode(it.connected_at)));
      }
      if (status === "paused") {
        facts.push(fact("Paused by", who(it.paused_by, it.paused_by_name)));
        facts.push(fact("Paused at", timeNode(it.paused_at)));
      }
      if (status === "connected" && it.resumed_at) {
        facts.push(fact("Resumed by", who(it.resumed_by, it.resumed_by_name)));
        facts.push(fact("Resumed at", timeNode(it.resumed_at)));
      }
      if (status === "disconnected") {
        facts.push(fact("Disconnected by", who(it.disconnected_by, it.disconnected_by_name)));
        facts.push(fact("Disconnected at", timeNode(it.disconnected_at)));
      }
      facts.push(fact("Last sync", it.sync_running ? "running now…" : timeNode(it.last_synced_at)));
      if (it.next_sync_at && !it.sync_running) facts.push(fact("Next sync", timeNode(it.next_sync_at)));
      if (it.last_error && status !== "error") facts.push(fact("Last error", it.last_error));
      $("facts").replaceChildren(...facts.flat());

      show($("btn-connect"), status === "available");
      show($("btn-pause"), status === "connected" || status === "error");
      show($("btn-resume"), status === "paused");
      show($("btn-sync"), status === "connected" || status === "error");
      $("btn-sync").disabled = it.sync_running;
      for (const id of ["btn-reconcile", "btn-full"]) {
        show($(id), isAdmin && (status === "connected" || status === "error"));
        $(id).disabled = it.sync_running;
      }
      show(
        $("btn-disconnect"),
        ["connected", "paused", "error", "awaiting_credentials", "awaiting_authorization"].includes(status),
      );

      $("redirect-uri").value = it.redirect_uri;
      const needsCredentials = ["awaiting_credentials", "awaiting_authorization", "disconnected"].includes(status);
      const form = $("credentials-form");
      form.hidden = !needsCredentials;
      $("save-credentials").textContent = status === "disconnected" ? "Reconnect" : "Save";
      $("authorize-title").textContent = status === "disconnected" ? "Reconnect" : "Authorize";
      $("authorize-intro").textContent = needsCredentials
        ? "In Classy, open Apps & Integrations › API, create an app (or use the existing one) with this " +
          "OAuth2 Redirect URI. Then copy the app's Client ID and Client Secret and your Organization ID here."
        : status === "available"
          ? "After Connect, register this OAuth2 Redirect URI for your app in Classy."
          : "The app registered in Classy uses this OAuth2 Redirect URI.";
      const stateKey = `${status}:${it.version}`;
      if (needsCredentials && prefilledFor !== stateKey) {
        prefilledFor = stateKey;
        // Prefill what is not secret; the Client Secret is never put back into a field.
        if (!$("client-id").value && it.client_id) $("client-id").value = it.client_id;
        if (!$("organization-id").value && it.organization_id) $("organization-id").value = it.organization_id;
      }
      const authorizeUrl = it.authorize_url || sessionStorage.getItem(AUTHORIZE_KEY);
      if (it.authorize_url) sessionStorage.setItem(AUTHORIZE_KEY, it.authorize_url);
      const awaitingLogin = status === "awaiting_authorization" && Boolean(authorizeUrl);
      show($("authorize-next"), awaitingLogin);
      if (awaitingLogin) $("authorize-link").href = authorizeUrl;
    }

    function streamSummary(streams) {
      const parts = [];
      for (const [name, counts] of orderedStreams(streams)) {
        if (!counts || !counts.fetched) continue;
        const label = STREAM_LABELS[name] || humanize(name);
        parts.push(
          el(
            "span",
            {
              class: "stream-count",
              title: `${fmtNum(counts.inserted)} new, ${fmtNum(counts.updated)} updated, ` +
                `${fmtNum(counts.unchanged)} unchanged`,
            },
            `${label} ${fmtNum(counts.fetched)}`,
          ),
        );
      }
      for (const [name, counts] of orderedStreams(streams)) {
        const found = counts && counts.reconcile;
        if (!found || !(found.deleted || found.restored)) continue;
        const label = STREAM_LABELS[name] || humanize(name);
        parts.push(el("span", { class: "stream-count" }, `${label}: ${fmtNum(found.deleted || 0)} deleted in Classy, ${fmtNum(found.restored || 0)} back`));
      }
      return parts;
    }

    /** Records the run set aside (stream, Classy id, reason): folded, they wait for a later run. */
    function rejectedList(run) {
      const rejected = run.rejected || [];
      if (!rejected.length) return null;
      const total = Object.values(run.streams || {}).reduce((sum, c) => sum + ((c && c.rejected) || 0), 0);
      const count = Math.max(total, rejected.length);
      return el(
        "details",
        { class: "run-rejected" },
        el("summary", {}, `${fmtNum(count)} record${count === 1 ? "" : "s"} set aside`),
        el(
          "ul",
          {},
          ...rejected.map((r) =>
            el(
              "li",
              {},
              `${STREAM_LABELS[r.stream] || humanize(r.stream)} `,
              el("code", {}, r.classy_id === null ? "(no id)" : `#${r.classy_id}`),
              `: ${r.reason}`,
            ),
          ),
        ),
      );
    }

    function totalFetched(streams) {
      return Object.values(streams || {}).reduce((sum, c) => sum + ((c && c.fetched) || 0), 0);
    }

    function renderRuns(page) {
      runs = page.items;
      const body = $("runs-body");
      body.replaceChildren(
        ...runs.map((run) =>
          el(
            "tr",
            { "data-status": run.status },
            el("td", {}, timeNode(run.started_at)),
            el(
              "td",
              { title: run.trigger === "webhook" ? "Started by a Classy webhook event" : null },
              run.mode && run.mode !== "incremental" ? `${humanize(run.trigger)} · ${run.mode}` : humanize(run.trigger),
            ),
            el("td", {}, el("span", { class: `pill pill-${run.status}` }, humanize(run.status))),
            el("td", {}, fmtDuration(run.started_at, run.finished_at)),
            el("td", { class: "num" }, fmtNum(totalFetched(run.streams))),
            el(
              "td",
              { class: "details" },
              el(
                "div",
                {},
                ...streamSummary(run.streams),
                run.error ? el("span", { class: "run-error" }, run.error) : null,
                rejectedList(run),
              ),
            ),
          ),
        ),
      );
      labelCells(body);
      show($("runs-empty"), runs.length === 0);
      show($("runs-more"), Boolean(page.next_cursor) && runsLimit < 500);

      const running = runs.find((run) => run.status === "running");
      const box = $("run-progress");
      if (running) {
        const rows = orderedStreams(running.streams).map(([name, counts]) =>
          el(
            "li",
            {},
            el("span", { class: "stream-name" }, STREAM_LABELS[name] || humanize(name)),
            el("span", { class: "num" }, `${fmtNum(counts.fetched)} read`),
            el("span", { class: "hint" }, `${fmtNum(counts.inserted)} new · ${fmtNum(counts.updated)} updated`),
          ),
        );
        box.replaceChildren(
          el(
            "p",
            {},
            el("strong", {}, `${humanize(running.trigger)} sync running`),
            ` — ${fmtNum(totalFetched(running.streams))} records read in ` +
              `${fmtDuration(running.started_at, null)}`,
          ),
          el("progress", { "aria-label": "Sync in progress" }),
          rows.length ? el("ul", { class: "stream-progress" }, ...rows) : el("p", { class: "hint" }, "Starting…"),
        );
        box.hidden = false;
      } else {
        box.hidden = true;
        box.replaceChildren();
      }
      const last = runs[0];
      if (wasRunning && !running && last) {
        const kind = last.status === "succeeded" ? "success" : "error";
        const what = `${humanize(last.trigger)} sync ${last.status}: ${fmtNum(totalFetched(last.streams))} records`;
        flash(last.error ? `${what}. ${last.error}` : `${what}.`, kind);
      }
      wasRunning = Boolean(running);
    }

    function renderEvents(page) {
      const body = $("events-body");
      body.replaceChildren(
        ...page.items.map((event) =>
          el(
            "tr",
            {},
            el("td", {}, timeNode(event.at)),
            el("td", {}, ACTION_LABELS[event.action] || humanize(event.action)),
            el("td", {}, who(event.actor, event.actor_name)),
            el(
              "td",
              { class: "details" },
              Object.entries(event.details || {})
                .map(([key, value]) => `${humanize(key)}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
                .join(" · "),
            ),
          ),
        ),
      );
      labelCells(body);
      show($("events-empty"), page.items.length === 0);
      show($("events-more"), Boolean(page.next_cursor) && eventsLimit < 500);
    }

    async function refreshIntegration() {
      integration = await api("GET", APP);
      render();
    }

    async function refreshRuns() {
      renderRuns(await api("GET", `${APP}/sync-runs${query({ limit: runsLimit })}`));
    }

    async function refreshEvents() {
      renderEvents(await api("GET", `${APP}/events${query({ limit: eventsLimit })}`));
    }

    async function refreshAll() {
      await Promise.all([refreshIntegration(), refreshRuns(), refreshEvents()]);
      await webhook.refresh(integration.status);
    }

    function schedule() {
      clearTimeout(timer);
      if (stopped) return;
      const fast = (integration && integration.sync_running) || runs.some((run) => run.status === "running");
      timer = setTimeout(tick, fast ? FAST_POLL_MS : SLOW_POLL_MS);
    }

    async function tick() {
      if (!document.hidden) {
        try {
          const running = wasRunning;
          await Promise.all([refreshIntegration(), refreshRuns()]);
          await webhook.refresh(integration.status);
          if (running !== wasRunning || !wasRunning) await refreshEvents();
        } catch (error) {
          if (error.status === 401) return;
        }
      }
      schedule();
    }

    async function lifecycle(button, method, path, message, body) {
      button.disabled = true;
      try {
        integration = await api(method, path, body);
        render();
        flash(message, "success");
        await Promise.all([refreshRuns(), refreshEvents()]);
      } catch (error) {
        if (error.status !== 401) flash(error.message, "error");
      } finally {
        button.disabled = false;
        if (integration) render();
        schedule();
      }
    }

    function fieldError(message, input) {
      const box = $("form-error");
      box.textContent = message;
      box.hidden = false;
      for (const id of ["client-id", "client-secret", "organization-id"]) $(id).removeAttribute("aria-invalid");
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
    }

    async function submitCredentials(event) {
      event.preventDefault();
      $("form-error").hidden = true;
      const clientId = $("client-id").value.trim();
      const secretInput = $("client-secret");
      const secret = secretInput.value.trim();
      const organization = $("organization-id").value.trim();
      if (!clientId) return fieldError("Enter the Client ID of your Classy app.", $("client-id"));
      if (!secret) return fieldError("Enter the Client Secret of your Classy app.", secretInput);
      if (!/^[0-9]+$/.test(organization)) {
        return fieldError("The Organization ID is a number, such as 82364.", $("organization-id"));
      }
      const reconnecting = integration.status === "disconnected";
      const button = $("save-credentials");
      const label = button.textContent;
      button.disabled = true;
      button.textContent = "Checking with Classy…";
      const body = { client_id: clientId, client_secret: secret, organization_id: organization };
      // The secret leaves the field now, whatever Classy answers; it is never shown again.
      secretInput.value = "";
      try {
        integration = await api(reconnecting ? "POST" : "PUT", reconnecting ? `${APP}/reconnect` : `${APP}/credentials`, body);
        for (const id of ["client-id", "client-secret", "organization-id"]) $(id).removeAttribute("aria-invalid");
        if (integration.authorize_url) {
          flash("Classy accepted the credentials. Log in to Classy to authorize the app.", "success");
        } else {
          flash(
            reconnecting
              ? "Reconnected: changes since the last successful sync are being imported."
              : "Connected: Classy accepted the credentials and the first sync has started.",
            "success",
          );
        }
        render();
        await Promise.all([refreshRuns(), refreshEvents()]);
      } catch (error) {
        if (error.status === 401) return;
        fieldError(error.message, error.code === "invalid_credentials" ? secretInput : null);
        refreshEvents().catch(() => {});
      } finally {
        button.disabled = false;
        button.textContent = integration && integration.status === "disconnected" ? "Reconnect" : label;
        schedule();
      }
    }

    async function copyRedirect() {
      const input = $("redirect-uri");
      const status = $("copy-status");
      try {
        await navigator.clipboard.writeText(input.value);
        status.textContent = "Copied the redirect URI to the clipboard.";
      } catch {
        input.select();
        const copied = document.execCommand && document.execCommand("copy");
        status.textContent = copied
          ? "Copied the redirect URI to the clipboard."
          : "Copying is not allowed here: the URI is selected, press Ctrl+C (⌘C) to copy it.";
      }
    }

    handleCallbackQuery();
    const claims = claimsOf(currentToken()) || {};
    const webhook = webhookSection(claims.role === "admin");
    $("copy-redirect").addEventListener("click", copyRedirect);
    $("credentials-form").addEventListener("submit", submitCredentials);
    $("btn-connect").addEventListener("click", (e) =>
      lifecycle(e.currentTarget, "POST", `${APP}/connect`, "Connecting: register the redirect URI in Classy, then save the credentials."),
    );
    $("btn-pause").addEventListener("click", (e) =>
      lifecycle(e.currentTarget, "POST", `${APP}/pause`, "Sync paused. Credentials are kept."),
    );
    $("btn-resume").addEventListener("click", (e) =>
      lifecycle(e.currentTarget, "POST", `${APP}/resume`, "Sync resumed: everything changed meanwhile is being imported."),
    );
    $("btn-sync").addEventListener("click", (e) =>
      lifecycle(e.currentTarget, "POST", `${APP}/sync`, "A sync has started."),
    );
    // Admin-only runs of another mode (API.md section 5), each confirmed first.
    $("btn-reconcile").addEventListener("click", (e) => {
      const ok = window.confirm(
        "Reconcile now? Besides the usual changes, this looks for records deleted in Classy (marking them " +
          "deleted here) and re-reads recent refunds.",
      );
      if (ok) lifecycle(e.currentTarget, "POST", `${APP}/sync`, "A reconcile has started.", { mode: "reconcile" });
    });
    $("btn-full").addEventListener("click", (e) => {
      const ok = window.confirm(
        "Import the organization's full history? Every record is read again (nothing is doubled); on a large " +
          "organization this takes a while.",
      );
      if (ok) lifecycle(e.currentTarget, "POST", `${APP}/sync`, "A full import has started.", { mode: "full" });
    });
    $("btn-disconnect").addEventListener("click", (e) => {
      const ok = window.confirm(
        "Disconnect Classy? The stored credentials are erased and syncing stops. Synced data stays.",
      );
      if (ok) lifecycle(e.currentTarget, "POST", `${APP}/disconnect`, "Disconnected. Synced data stays.");
    });
    $("runs-more").addEventListener("click", () => {
      runsLimit = Math.min(500, runsLimit + 20);
      refreshRuns().catch((error) => flash(error.message, "error"));
    });
    $("events-more").addEventListener("click", () => {
      eventsLimit = Math.min(500, eventsLimit + 20);
      refreshEvents().catch((error) => flash(error.message, "error"));
    });

    stopPage = () => {
      stopped = true;
      clearTimeout(timer);
    };
    return refreshAll().then(schedule);
  }

  // ---------------------------------------------------------------- Contacts & donations

  /** Keyset pages: a stack of cursors so that Previous works. */
  function pager(prefix, load) {
    const state = { cursors: [null], index: 0, next: null };
    const prev = $(`${prefix}-prev`);
    const next = $(`${prefix}-next`);
    async function go() {
      prev.disabled = true;
      next.disabled = true;
      try {
        const page = await load(state.cursors[state.index]);
        state.next = page.next_cursor;
        $(`${prefix}-page`).textContent = `Page ${state.index + 1}`;
        prev.disabled = state.index === 0;
        next.disabled = !state.next;
      } catch (error) {
        if (error.status !== 401) flash(error.message, "error");
      }
    }
    prev.addEventListener("click", () => {
      if (state.index > 0) state.index -= 1;
      go();
    });
    next.addEventListener("click", () => {
      if (!state.next) return;
      state.cursors = state.cursors.slice(0, state.index + 1).concat([state.next]);
      state.index += 1;
      go();
    });
    return {
      reset() {
        state.cursors = [null];
        state.index = 0;
        return go();
      },
    };
  }

  function dataPage() {
    const PAGE_SIZE = 25;
    let email = "";
    let contact = null;

    const includeDeleted = () => ($("include-deleted").checked ? "true" : null);
    const deletedMark = (row) =>
      row.deleted_at ? [" ", el("span", { class: "pill pill-other", title: `Deleted in Classy ${fmtTime(row.deleted_at)}` }, "deleted")] : [];

    const contacts = pager("contacts", async (cursor) => {
      const include_deleted = includeDeleted();
      const page = await api("GET", `${API}/contacts${query({ limit: PAGE_SIZE, cursor, email, include_deleted })}`);
      $("contacts-body").replaceChildren(
        ...page.items.map((c) => {
          const name = [c.first_name, c.last_name].filter(Boolean).join(" ") || "—";
          return el(
            "tr",
            {},
            el("td", {}, contactLink(c.id, name), ...deletedMark(c)),
            el("td", {}, c.email || "—"),
            el("td", {}, c.phone || "—"),
            el("td", {}, c.city || "—"),
            el("td", {}, c.postal_code || "—"),
            el("td", {}, timeNode(c.updated_at)),
            el(
              "td",
              {},
              el(
                "button",
                {
                  type: "button",
                  class: "linkish",
                  "aria-label": `Donations of ${name === "—" ? c.email || `contact ${c.id}` : name}`,
                  onclick: () => selectContact(c, name),
                },
                "Donations",
              ),
            ),
          );
        }),
      );
      labelCells($("contacts-body"));
      show($("contacts-empty"), page.items.length === 0);
      return page;
    });

    const donations = pager("donations", async (cursor) => {
      const status = $("donation-status").value;
      const page = await api(
        "GET",
        `${API}/donations${query({ limit: PAGE_SIZE, cursor, status, contact_id: contact && contact.id, include_deleted: includeDeleted() })}`,
      );
      $("donations-body").replaceChildren(
        ...page.items.map((d) =>
          el(
            "tr",
            {},
            el("td", {}, timeNode(d.purchased_at || d.created_at)),
            el("td", { class: "num" }, d.amount === null ? "—" : `${d.amount} ${d.currency || ""}`.trim()),
            el("td", {}, el("span", { class: `pill pill-${d.status === "success" ? "succeeded" : "other"}` }, d.status || "—"), ...deletedMark(d)),
            el("td", {}, d.campaign_name || (d.classy_campaign_id ? `#${d.classy_campaign_id}` : "—")),
            el("td", {}, d.frequency || "—"),
            el("td", {}, String(d.classy_transaction_id)),
            el("td", {}, donationLink(d)),
          ),
        ),
      );
      labelCells($("donations-body"));
      show($("donations-empty"), page.items.length === 0);
      return page;
    });

    function selectContact(c, name) {
      contact = c;
      $("donations-title").textContent = `Donations of ${name === "—" ? c.email || `contact ${c.id}` : name}`;
      show($("donations-all"), true);
      donations.reset();
      $("donations-title").scrollIntoView({ behavior: "smooth", block: "start" });
    }

    $("contact-search").addEventListener("submit", (event) => {
      event.preventDefault();
      email = $("email-search").value.trim();
      contacts.reset();
    });
    $("clear-search").addEventListener("click", () => {
      $("email-search").value = "";
      email = "";
      contacts.reset();
    });
    $("donation-status").addEventListener("change", () => donations.reset());
    $("include-deleted").addEventListener("change", () => Promise.all([contacts.reset(), donations.reset()]));
    dataPageExtras({
      contacts: () => ({ email, include_deleted: includeDeleted() }),
      donations: () => ({
        status: $("donation-status").value,
        contact_id: contact && contact.id,
        include_deleted: includeDeleted(),
      }),
    });
    $("donations-all").addEventListener("click", () => {
      contact = null;
      $("donations-title").textContent = "Donations";
      show($("donations-all"), false);
      donations.reset();
    });
    return Promise.all([contacts.reset(), donations.reset()]);
  }

  // ---------------------------------------------------------------- Issue #11: lists, detail pages, CSV
  // Campaigns and recurring-plans lists, the contact page (person, donations, plans, registrations), the
  // donation page (gift, fund, page/team, payment, dedication) and a CSV download on each list.

  /** Downloads `path` as CSV (every page, same filters) with the bearer token; the browser saves it. */
  async function downloadCsv(button, path, params, filename) {
    button.disabled = true;
    const label = button.textContent;
    button.textContent = "Preparing CSV…";
    try {
      const response = await fetch(`${API}${path}${query(params || {})}`, {
        headers: { Authorization: `Bearer ${currentToken()}`, Accept: "text/csv" },
        cache: "no-store",
        credentials: "omit",
      });
      if (response.status === 401) return signOut("Your token was not accepted. Paste a new one.");
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        throw new ApiError(response.status, body);
      }
      const url = URL.createObjectURL(await response.blob());
      const link = el("a", { href: url, download: `${filename}.csv`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      flash(`Downloaded ${filename}.csv.`, "success");
    } catch (error) {
      flash(error.message, "error");
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }

  /** Wires a "Download CSV" button; `params()` gives the list's current filters. */
  function csvButton(id, path, params, filename) {
    const button = $(id);
    if (button) button.addEventListener("click", () => downloadCsv(button, path, params(), filename));
  }

  function moneyText(amount, currency) {
    return amount === null || amount === undefined ? "—" : `${amount} ${currency || ""}`.trim();
  }

  function personName(c) {
    return [c.first_name, c.last_name].filter(Boolean).join(" ") || c.email || `Contact ${c.id}`;
  }

  /** The numeric id at the end of the page's path (/console/contacts/12 → 12). */
  function pathId() {
    const match = location.pathname.match(/\/(\d+)\/?$/);
    return match ? match[1] : null;
  }

  function fillFacts(dl, pairs) {
    dl.replaceChildren(
      ...pairs.flatMap(([label, value]) => [
        el("dt", {}, label),
        el("dd", {}, value === null || value === undefined || value === "" ? "—" : value),
      ]),
    );
  }

  function yesNo(value) {
    return value === null || value === undefined ? "—" : value ? "Yes" : "No";
  }

  function statusPill(status) {
    const good = ["success", "active", "attending"].includes(status);
    return el("span", { class: `pill pill-${good ? "succeeded" : "other"}` }, status || "—");
  }

  function contactLink(id, text) {
    return id ? el("a", { href: `/console/contacts/${encodeURIComponent(id)}` }, text || `Contact ${id}`) : "—";
  }

  function donationLink(d) {
    return el(
      "a",
      { href: `/console/donations/${encodeURIComponent(d.id)}`, "aria-label": `Details of donation ${d.classy_transaction_id}` },
      "Details",
    );
  }

  function campaignsPage() {
    const list = pager("campaigns", async (cursor) => {
      const page = await api("GET", `${API}/campaigns${query({ limit: 25, cursor })}`);
      $("campaigns-body").replaceChildren(
        ...page.items.map((c) =>
          el(
            "tr",
            {},
            el("td", {}, c.name || "—"),
            el("td", {}, c.type ? humanize(c.type) : "—"),
            el("td", {}, statusPill(c.status)),
            el("td", { class: "num" }, moneyText(c.goal, c.currency)),
            el("td", {}, timeNode(c.started_at)),
            el("td", {}, timeNode(c.ended_at)),
            el("td", {}, String(c.classy_campaign_id)),
          ),
        ),
      );
      labelCells($("campaigns-body"));
      show($("campaigns-empty"), page.items.length === 0);
      return page;
    });
    csvButton("campaigns-csv", "/campaigns", () => ({}), "campaigns");
    return list.reset();
  }

  function planCells(p, withContact) {
    return [
      withContact ? el("td", {}, contactLink(p.contact_id)) : null,
      el("td", { class: "num" }, moneyText(p.amount, p.currency)),
      el("td", {}, p.frequency || "—"),
      el("td", {}, statusPill(p.status)),
      el("td", {}, p.next_charge_on || "—"),
      el("td", {}, timeNode(p.started_at)),
      withContact ? el("td", {}, timeNode(p.canceled_at)) : null,
      el("td", {}, String(p.classy_recurring_plan_id)),
    ];
  }

  function plansPage() {
    const filters = () => ({ status: $("plan-status").value });
    const list = pager("plans", async (cursor) => {
      const page = await api("GET", `${API}/recurring-plans${query({ limit: 25, cursor, ...filters() })}`);
      $("plans-body").replaceChildren(...page.items.map((p) => el("tr", {}, ...planCells(p, true))));
      labelCells($("plans-body"));
      show($("plans-empty"), page.items.length === 0);
      return page;
    });
    $("plan-status").addEventListener("change", () => list.reset());
    csvButton("plans-csv", "/recurring-plans", filters, "recurring-plans");
    return list.reset();
  }

  async function contactPage() {
    const id = pathId();
    const contact = await api("GET", `${API}/contacts/${encodeURIComponent(id)}`);
    const name = personName(contact);
    document.title = `${name} · classy-sync console`;
    $("contact-name").textContent = name;
    $("contact-lead").textContent = contact.classy_supporter_id
      ? `Classy supporter ${contact.classy_supporter_id}`
      : "A registrant or purchaser without a Classy supporter record";
    const address = [contact.address1, contact.address2, contact.city, contact.state, contact.postal_code, contact.country]
      .filter(Boolean)
      .join(", ");
    fillFacts($("contact-facts"), [
      ["Email", contact.email],
      ["Phone", contact.phone],
      ["Cell phone", contact.cell_phone],
      ["Company", contact.company],
      ["Address", address],
      ["Email opt-in", yesNo(contact.email_opt_in)],
      ["SMS opt-in", yesNo(contact.sms_opt_in)],
      ["Updated", timeNode(contact.updated_at)],
    ]);
    const mine = { contact_id: id };
    const gifts = pager("contact-donations", async (cursor) => {
      const page = await api("GET", `${API}/donations${query({ limit: 10, cursor, ...mine })}`);
      $("contact-donations-body").replaceChildren(
        ...page.items.map((d) =>
          el(
            "tr",
            {},
            el("td", {}, timeNode(d.purchased_at || d.created_at)),
            el("td", { class: "num" }, moneyText(d.amount, d.currency)),
            el("td", {}, d.kind ? humanize(d.kind) : "—"),
            el("td", {}, statusPill(d.status)),
            el("td", {}, d.designation_name || "—"),
            el("td", {}, d.campaign_name || "—"),
            el("td", {}, donationLink(d)),
          ),
        ),
      );
      labelCells($("contact-donations-body"));
      show($("contact-donations-empty"), page.items.length === 0);
      return page;
    });
    async function loadPlans() {
      const page = await api("GET", `${API}/recurring-plans${query({ limit: 100, ...mine })}`);
      $("contact-plans-body").replaceChildren(...page.items.map((p) => el("tr", {}, ...planCells(p, false))));
      labelCells($("contact-plans-body"));
      show($("contact-plans-empty"), page.items.length === 0);
    }
    async function loadRegistrations() {
      const page = await api("GET", `${API}/registrations${query({ limit: 100, ...mine })}`);
      $("contact-registrations-body").replaceChildren(
        ...page.items.map((r) =>
          el(
            "tr",
            {},
            el("td", {}, r.campaign_name || (r.classy_campaign_id ? `#${r.classy_campaign_id}` : "—")),
            el("td", {}, r.ticket_name || "—"),
            el("td", {}, statusPill(r.status)),
            el("td", {}, timeNode(r.created_at)),
            el("td", {}, String(r.classy_registration_id)),
          ),
        ),
      );
      labelCells($("contact-registrations-body"));
      show($("contact-registrations-empty"), page.items.length === 0);
    }
    csvButton("contact-donations-csv", "/donations", () => mine, `donations-contact-${id}`);
    csvButton("contact-plans-csv", "/recurring-plans", () => mine, `recurring-plans-contact-${id}`);
    csvButton("contact-registrations-csv", "/registrations", () => mine, `registrations-contact-${id}`);
    await Promise.all([gifts.reset(), loadPlans(), loadRegistrations()]);
  }

  async function donationPage() {
    const d = await api("GET", `${API}/donations/${encodeURIComponent(pathId())}`);
    document.title = `Donation ${d.classy_transaction_id} · classy-sync console`;
    $("donation-title").textContent = `${moneyText(d.amount, d.currency)} · ${d.kind ? humanize(d.kind) : "Donation"}`;
    $("donation-lead").replaceChildren(
      `Classy transaction ${d.classy_transaction_id} · `,
      contactLink(d.contact_id, "the donor's contact page"),
    );
    fillFacts($("gift-facts"), [
      ["Status", statusPill(d.status)],
      ["Kind", d.kind ? humanize(d.kind) : null],
      ["Date", timeNode(d.purchased_at || d.created_at)],
      ["Amount", moneyText(d.amount, d.currency)],
      ["Total", moneyText(d.total_amount, d.currency)],
      ["Donor's amount", moneyText(d.raw_amount, d.raw_currency)],
      ["Frequency", d.frequency],
      ["Recurring plan", d.classy_recurring_plan_id ? String(d.classy_recurring_plan_id) : null],
      ["Anonymous", yesNo(d.is_anonymous)],
      ["Amount hidden", yesNo(d.hide_amount)],
      ["Company", d.company_name],
      ["Comment", d.comment],
      ["Refunded", d.refunded_at ? timeNode(d.refunded_at) : null],
    ]);
    fillFacts($("fund-facts"), [
      ["Fund (designation)", d.designation_name || (d.designation_id ? `#${d.designation_id}` : null)],
      ["Campaign", d.campaign_name || (d.classy_campaign_id ? `#${d.classy_campaign_id}` : null)],
      ["Fundraising page", d.fundraising_page_title],
      ["Fundraising team", d.fundraising_team_name],
    ]);
    fillFacts($("payment-facts"), [
      ["Payment type", d.payment_type],
      ["Method", d.payment_method],
      ["Card", d.card_type ? `${d.card_type}${d.card_last_four ? ` ending ${d.card_last_four}` : ""}` : null],
      ["Fees", moneyText(d.fee_amount, d.currency)],
      ["Classy fees", moneyText(d.classy_fees_amount, d.currency)],
      ["Processor fees", moneyText(d.processor_fees_amount, d.currency)],
      ["Donor covered the fees", yesNo(d.donor_covered_fees)],
      ["Net", moneyText(d.net_amount, d.currency)],
    ]);
    const dedication = d.dedication;
    show($("dedication-empty"), !dedication);
    show($("dedication-facts"), Boolean(dedication));
    if (dedication) {
      fillFacts($("dedication-facts"), [
        ["In", dedication.type === "memory" ? "Memory of" : "Honor of"],
        ["Honoree", dedication.honoree_name],
        ["Notify", dedication.name],
        ["Notify email", dedication.email_address],
      ]);
    }
  }

  /** The contacts & donations page's CSV buttons and links to the detail pages. */
  function dataPageExtras(filters) {
    csvButton("contacts-csv", "/contacts", filters.contacts, "contacts");
    csvButton("donations-csv", "/donations", filters.donations, "donations");
  }

  // ---------------------------------------------------------------- start

  const PAGES = {
    directory: directoryPage,
    classy: classyPage,
    data: dataPage,
    campaigns: campaignsPage,
    plans: plansPage,
    contact: contactPage,
    donation: donationPage,
  };

  async function start() {
    const token = currentToken();
    const claims = token && claimsOf(token);
    if (!claims) return showSignIn(token ? "The stored token could not be read. Paste a new one." : "");
    if (claims.exp && claims.exp * 1000 < Date.now()) {
      return signOut("Your token has expired. Paste a new one.");
    }
    show($("signin"), false);
    show($("content"), true);
    showWho(claims);
    clearFlash();
    const page = PAGES[document.body.dataset.page];
    try {
      if (page) await page();
    } catch (error) {
      if (error.status !== 401) flash(error.message, "error");
    }
  }

  takeTokenFromFragment();
  wireSignIn();
  // A link to #token=… followed from a console page changes only the fragment: take it and start over.
  window.addEventListener("hashchange", () => {
    if (!new URLSearchParams(location.hash.replace(/^#/, "")).has("token")) return;
    takeTokenFromFragment();
    location.reload();
  });
  start();
})();
