import { StrictMode, useCallback, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import type { User } from "../../../src/gen/berth/v1/types_pb.js";
import { api, session, whenSignedOut } from "./api.js";
import { ConfigContext, type ConsoleConfig, loadConsoleConfig } from "./config.js";
import { AuditPage } from "./pages/Audit.js";
import { ConnectionForm } from "./pages/ConnectionForm.js";
import { ConnectionPage } from "./pages/ConnectionPage.js";
import { Connections } from "./pages/Connections.js";
import { Login } from "./pages/Login.js";
import { go, href, useRoute } from "./router.js";
import "./styles.css";

function App() {
  const route = useRoute();
  const [config, setConfig] = useState<ConsoleConfig | undefined>();
  useEffect(() => {
    loadConsoleConfig().then(setConfig, () => setConfig({ googleClientId: null, engines: [] }));
  }, []);
  const [signedIn, setSignedIn] = useState(session.token !== null);
  const [me, setMe] = useState<User | undefined>();
  useEffect(() => whenSignedOut(() => setSignedIn(false)), []);
  useEffect(() => {
    if (!signedIn) return;
    api.auth
      .whoAmI({})
      .then((r) => setMe(r.user))
      .catch(() => {});
  }, [signedIn]);
  const onSignedIn = useCallback(() => {
    setSignedIn(true);
    if (route[0] === "login" || route.length === 0) go("connections");
  }, [route]);

  if (!config) return <main aria-busy="true">Loading…</main>;
  if (!signedIn)
    return (
      <ConfigContext.Provider value={config}>
        <Login onSignedIn={onSignedIn} />
      </ConfigContext.Provider>
    );

  const signOut = async () => {
    await api.auth.logout({}).catch(() => {});
    session.clear();
    setMe(undefined);
    setSignedIn(false);
    go("login");
  };

  const [section, id, tab] = route;
  let page: React.ReactNode;
  if (section === "audit" && me?.role === "admin") page = <AuditPage />;
  else if (section === "connections" && id === "new")
    page = (
      <main>
        <h1>New connection</h1>
        <ConnectionForm />
      </main>
    );
  else if (section === "connections" && id) page = <ConnectionPage key={id} id={id} tab={tab} me={me} />;
  else page = <Connections />;

  return (
    <ConfigContext.Provider value={config}>
      <a className="skip" href="#content">
        Skip to content
      </a>
      <header className="top">
        <a className="brand" href={href("connections")}>
          Berth
        </a>
        <nav aria-label="Main">
          <a
            href={href("connections")}
            aria-current={section !== "audit" ? "page" : undefined}
            className={section !== "audit" ? "nav-current" : undefined}
          >
            Connections
          </a>
          {me?.role === "admin" && (
            <a
              href={href("audit")}
              aria-current={section === "audit" ? "page" : undefined}
              className={section === "audit" ? "nav-current" : undefined}
            >
              Audit
            </a>
          )}
        </nav>
        <span className="me">
          {me?.username}
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      <div id="content">{page}</div>
    </ConfigContext.Provider>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
