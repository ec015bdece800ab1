//! The values that cross between JavaScript and the core. Plain values cross as the core's
//! canonical serde JSON (`serde_json::Value` ↔ JS objects, napi's `serde-json` feature); their
//! TypeScript shapes are generated from the core's JSON Schema (`scripts/shapes.mjs` writes
//! `shapes.d.ts`, the header of the generated `index.d.ts`). `ServerConfig`, `Tool` and
//! `ToolResult` are classes (they have methods); `toJSON()` is the core's canonical JSON.

use std::{collections::HashMap, sync::Arc};

use corral_core as core;
use napi::{
    Env, Status,
    bindgen_prelude::{FnArgs, Function, FunctionRef, JsObjectValue, Object, ObjectRef},
    threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode},
};
use napi_derive::napi;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::errors::{self, JsResult};

/// Options of `new Corral(...)`.
#[napi(object)]
#[derive(Default)]
pub struct CorralOptions {
    /// `local` (bubblewrap, the default) or `unsandboxed` (no isolation; only when asked for).
    pub provider: Option<String>,
    /// corral's home (state, caches). Default: `$CORRAL_HOME`, else `<data dir>/corral`.
    pub home: Option<String>,
    /// The API key of a remote provider (`e2b`). Default: `$E2B_API_KEY`.
    pub api_key: Option<String>,
}

impl From<CorralOptions> for core::CorralOptions {
    fn from(o: CorralOptions) -> Self {
        let (provider, api_key, home) = (o.provider, o.api_key, o.home.map(Into::into));
        Self {
            provider,
            api_key,
            home,
        }
    }
}

/// A `#[napi] impl $ty` of getters that clone a field of `self.$inner` (`$ts`: their
/// TypeScript type, when napi's would not do). Docs are `#[doc = "…"]` attributes: napi reads a
/// `///` comment that passed through `macro_rules!` as `r"…"`.
macro_rules! getters {
    ($ty:ident.$inner:ident { $( $(#[doc = $m:literal])* $field:ident: $t:ty $(as $ts:literal)?, )* }) => {
        #[napi_derive::napi]
        impl $ty { $(
            $(#[doc = $m])*
            #[napi(catch_unwind, getter $(, ts_return_type = $ts)?)]
            pub fn $field(&self) -> $t {
                self.$inner.$field.clone()
            }
        )* }
    };
}
pub(crate) use getters;

/// The class `$ty` over `inner: core::$ty`, with [`getters!`] of its fields.
macro_rules! class {
    ($(#[doc = $doc:literal])* $ty:ident $getters:tt) => {
        $(#[doc = $doc])*
        #[napi]
        pub struct $ty {
            pub(crate) inner: core::$ty,
        }

        impl From<core::$ty> for $ty {
            fn from(inner: core::$ty) -> Self {
                Self { inner }
            }
        }

        getters!($ty.inner $getters);
    };
}

class! {
    #[doc = "A validated server config. `new ServerConfig(name, dict)` throws `CONFIG_INVALID` naming the"]
    #[doc = "offending field."]
    ServerConfig {
        #[doc = "The server's name."]
        name: String,
        #[doc = "Its free labels."]
        tags: Vec<String>,
    }
}

#[napi]
impl ServerConfig {
    /// Parses `dict` in any accepted form.
    #[napi(
        catch_unwind,
        constructor,
        ts_args_type = "name: string, config: ServerConfigDict"
    )]
    pub fn new(env: Env, name: String, config: Value) -> napi::Result<Self> {
        errors::throw(
            &env,
            core::ServerConfig::from_value(&name, &config).map(Self::from),
        )
    }

    /// A stdio server from a command line (split like a shell would).
    #[napi(catch_unwind, factory)]
    pub fn command(env: Env, name: String, command: String) -> napi::Result<Self> {
        errors::throw(
            &env,
            core::ServerConfig::command(name, &command).map(Self::from),
        )
    }

    /// A remote Streamable-HTTP server.
    #[napi(catch_unwind, factory)]
    pub fn url(name: String, url: String, headers: Option<HashMap<String, String>>) -> Self {
        let mut inner = core::ServerConfig::url(name, url);
        if let core::Transport::Http { headers: h, .. } = &mut inner.transport {
            h.extend(headers.unwrap_or_default());
        }
        Self { inner }
    }

    /// Whether it is a remote (`url`) server.
    #[napi(catch_unwind, getter)]
    pub fn is_remote(&self) -> bool {
        self.inner.is_remote()
    }

    /// The config in the canonical camelCase form (what the constructor reads back).
    #[napi(catch_unwind, js_name = "toJSON", ts_return_type = "ServerConfigJson")]
    pub fn to_json(&self) -> Value {
        json(&self.inner)
    }
}

class! {
    #[doc = "A tool a server offers."]
    Tool {
        #[doc = "Its name, unique within its server."]
        name: String,
        #[doc = "Human-readable title, if any."]
        title: Option<String>,
        #[doc = "What it does."]
        description: Option<String>,
        #[doc = "JSON Schema of its arguments."]
        input_schema: Value as "Record<string, any>",
        #[doc = "JSON Schema of its structured output, if it declares one."]
        output_schema: Option<Value> as "Record<string, any> | undefined",
        #[doc = "Hints such as `readOnlyHint`, as the server sent them."]
        annotations: Option<Value> as "Record<string, any> | undefined",
    }
}

#[napi]
impl Tool {
    /// The OpenAI function-tool form: `{type: "function", function: {name, description, parameters}}`.
    #[napi(catch_unwind, js_name = "toOpenAI", ts_return_type = "OpenAITool")]
    pub fn to_openai(&self) -> Value {
        self.inner.to_openai()
    }

    /// The Anthropic Messages API tool form: `{name, description, input_schema}`.
    #[napi(catch_unwind, ts_return_type = "AnthropicTool")]
    pub fn to_anthropic(&self) -> Value {
        self.inner.to_anthropic()
    }

    /// `{name, title?, description?, inputSchema, outputSchema?, annotations?}`: the core's
    /// canonical form.
    #[napi(catch_unwind, js_name = "toJSON", ts_return_type = "ToolJson")]
    pub fn to_json(&self) -> Value {
        json(&self.inner)
    }
}

impl Tool {
    pub(crate) fn list(tools: Vec<core::Tool>) -> Vec<Self> {
        tools.into_iter().map(Self::from).collect()
    }
}

class! {
    #[doc = "The result of a tool call. A tool that runs and reports failure is a result with"]
    #[doc = "`isError === true`, not a rejection."]
    ToolResult {
        #[doc = "Structured output (matches the tool's output schema when it declares one)."]
        structured_content: Option<Value> as "any",
        #[doc = "Whether the tool reported failure."]
        is_error: bool,
    }
}

#[napi]
impl ToolResult {
    /// The content items.
    #[napi(catch_unwind, getter, ts_return_type = "Content[]")]
    pub fn content(&self) -> Value {
        json(&self.inner.content)
    }

    /// All text items, joined by newlines.
    #[napi(catch_unwind, getter)]
    pub fn text(&self) -> String {
        self.inner.text()
    }

    /// The MCP JSON form: `{content, structuredContent?, isError}`.
    #[napi(catch_unwind, js_name = "toJSON", ts_return_type = "ToolResultJson")]
    pub fn to_json(&self) -> Value {
        json(&self.inner)
    }
}

/// Reads an options object of the core (`CONFIG_INVALID` naming the field under `under.`);
/// absent or `null`: the defaults.
pub(crate) fn options<T: serde::de::DeserializeOwned + Default>(
    value: Option<Value>,
    under: &str,
) -> core::Result<T> {
    match value {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => core::config::from_value_under(&v, under),
    }
}

/// A core value in its canonical serde JSON form.
pub(crate) fn json<T: serde::Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A JS callback called from the runtime's threads with a canonical JSON value; weak, so it
/// never keeps Node alive on its own (a pending Promise does).
type Sink<T> = Arc<dyn Fn(T) + Send + Sync>;
type Callback = ThreadsafeFunction<Value, (), Value, Status, false, true>;

/// Wraps an optional JS function as a core callback (`LogCallback`, `StartCallback`, the
/// progress callback) fed with `T`'s canonical JSON.
pub(crate) fn callback<T: serde::Serialize>(
    f: Option<Function<Value, ()>>,
) -> JsResult<Option<Sink<T>>> {
    let Some(f) = f else { return Ok(None) };
    let tsfn: Callback = f
        .build_threadsafe_function()
        .callee_handled::<false>()
        .weak::<true>()
        .build()
        .map_err(napi_err)?;
    Ok(Some(Arc::new(move |v: T| {
        tsfn.call(json(&v), ThreadsafeFunctionCallMode::NonBlocking);
    })))
}

fn napi_err(e: napi::Error) -> core::Error {
    errors::invalid(e.reason)
}

/// A JS abort listener registered for one call; removed when the call settles.
pub(crate) struct AbortHook {
    signal: ObjectRef<false>,
    listener: FunctionRef<(), ()>,
}

type Listen<'a> = Function<'a, FnArgs<(&'static str, Function<'a, (), ()>)>, ()>;

impl AbortHook {
    /// Removes the listener from the signal (on the JS thread, once the call settled).
    pub(crate) fn detach(self, env: &Env) {
        if let Ok(signal) = self.signal.get_value(env)
            && let Ok(remove) = signal.get_named_property::<Listen>("removeEventListener")
            && let Ok(listener) = self.listener.borrow_back(env)
        {
            let _ = remove.apply(signal, FnArgs::from(("abort", listener)));
        }
        let _ = self.signal.unref(env);
    }
}

/// Reads `CallOptions` (`{timeoutMs, maxTotalMs, onProgress, signal}`, on the JS thread) and
/// registers the abort listener. An already aborted signal is a `CANCELLED` error.
pub(crate) fn call_options(
    env: &Env,
    options: Option<Object>,
) -> (JsResult<core::CallOptions>, Option<AbortHook>) {
    match read_call_options(env, options) {
        Ok((options, hook)) => (Ok(options), hook),
        Err(e) => (Err(e), None),
    }
}

fn read_call_options(
    env: &Env,
    options: Option<Object>,
) -> JsResult<(core::CallOptions, Option<AbortHook>)> {
    let Some(options) = options else {
        return Ok(Default::default());
    };
    let ms = |key: &str| -> JsResult<Option<std::time::Duration>> {
        let ms = options
            .get::<f64>(key)
            .map_err(|_| errors::invalid(format!("{key} must be a number")))?;
        ms.map(|ms| core::config::duration_from_millis(ms, key))
            .transpose()
    };
    let mut out = core::CallOptions {
        timeout: ms("timeoutMs")?,
        max_total: ms("maxTotalMs")?,
        ..Default::default()
    };
    let on_progress = options.get::<Function<Value, ()>>("onProgress");
    out.on_progress =
        callback(on_progress.map_err(|_| errors::invalid("onProgress must be a function"))?)?;
    let not_signal = |_| errors::invalid("signal must be an AbortSignal");
    let Some(signal) = options.get::<Object>("signal").map_err(not_signal)? else {
        return Ok((out, None));
    };
    if signal.get::<bool>("aborted").ok().flatten() == Some(true) {
        let message = "the signal was aborted before the call started";
        return Err(core::Error::new(core::ErrorKind::Cancelled, message));
    }
    let token = CancellationToken::new();
    let trigger = token.clone();
    let listener = env
        .create_function_from_closure::<(), (), _>("onabort", move |_| {
            trigger.cancel();
            Ok(())
        })
        .map_err(napi_err)?;
    let add = signal
        .get_named_property::<Listen>("addEventListener")
        .map_err(not_signal)?;
    add.apply(signal, FnArgs::from(("abort", listener)))
        .map_err(napi_err)?;
    let hook = AbortHook {
        signal: signal.create_ref().map_err(napi_err)?,
        listener: listener.create_ref().map_err(napi_err)?,
    };
    out.cancel = Some(token);
    Ok((out, Some(hook)))
}
