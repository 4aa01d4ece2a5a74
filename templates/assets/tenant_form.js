// Progressive enhancement: fill the state and city lists in place from the
// contact directory's endpoints; without this script the "Show…" buttons do it.
(() => {
  const form = document.getElementById("tenant-form");
  const api = form.dataset.api;
  const country = document.getElementById("country");
  const stateRow = document.getElementById("state-row");
  const state = document.getElementById("state_code");
  const cities = document.getElementById("city-list");
  form.querySelectorAll(".refresh").forEach((b) => { b.hidden = true; });
  const option = (value, text) => { const o = document.createElement("option"); o.value = value; o.textContent = text; return o; };
  const get = async (path) => {
    try { const r = await fetch(api + path, { headers: { accept: "application/json" } }); return r.ok ? await r.json() : null; }
    catch (_) { return null; }
  };
  const enc = encodeURIComponent;
  // The page's own words for "choose one", in its language.
  const choose = state.options[0] ? state.options[0].textContent : "";
  country.addEventListener("change", async () => {
    state.replaceChildren(option("", choose));
    cities.replaceChildren();
    const body = country.value ? await get(`/no_auth/countries/${enc(country.value)}/states`) : null;
    const list = body && body.error_code === "EOK" ? body.states : [];
    list.forEach((s) => state.append(option(s.state_code, s.state_name)));
    stateRow.hidden = list.length === 0;
    form.dataset.states = "loaded";
  });
  state.addEventListener("change", async () => {
    cities.replaceChildren();
    const body = state.value ? await get(`/no_auth/countries/${enc(country.value)}/states/${enc(state.value)}/cities`) : null;
    (body && body.error_code === "EOK" ? body.cities : []).forEach((c) => cities.append(option(c.city_name, "")));
    form.dataset.cities = "loaded";
  });
})();
