package io.github.corralmcp.corral.conformance

import io.github.corralmcp.corral.CallOptions
import io.github.corralmcp.corral.Corral
import io.github.corralmcp.corral.CorralException
import io.github.corralmcp.corral.CorralOptions
import io.github.corralmcp.corral.NetworkPolicy
import io.github.corralmcp.corral.Progress
import io.github.corralmcp.corral.ProgressListener
import io.github.corralmcp.corral.SandboxConfig
import io.github.corralmcp.corral.SandboxHandle
import io.github.corralmcp.corral.ToolResult
import io.github.corralmcp.corral.parseMount
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.util.Collections
import kotlin.io.path.extension
import kotlin.io.path.listDirectoryEntries
import kotlin.io.path.nameWithoutExtension
import kotlin.io.path.readText

// The Kotlin runner of corral's shared conformance suite. Mirrors tests/conformance/src/lib.rs:
// the same scenario format, placeholders, ops and expectations, through the Kotlin API.

/** One scenario file. */
data class Scenario(
    val name: String,
    val description: String,
    val requires: List<String>,
    val servers: Map<String, JsonElement>,
    val steps: List<JsonElement>,
)

private val SCENARIO_KEYS = setOf("name", "description", "requires", "servers", "steps")

/** Loads every `*.json` scenario in `dir`, sorted by name. */
fun loadScenarios(dir: Path): List<Scenario> =
    dir
        .listDirectoryEntries()
        .filter { it.extension == "json" }
        .sorted()
        .map { f ->
            val v = Json.parseToJsonElement(f.readText()).asObject() ?: error("$f: not an object")
            v.keys.firstOrNull { it !in SCENARIO_KEYS }?.let { error("$f: unknown field `$it`") }
            val name = v["name"].asStr() ?: error("$f: missing `name`")
            require(f.nameWithoutExtension == name) { "$f: name must equal the file name" }
            Scenario(
                name = name,
                description = v["description"].asStr() ?: "",
                requires = v["requires"].asArray()?.map { it.asStr() ?: error("$f: bad `requires`") } ?: emptyList(),
                servers = v["servers"].asObject() ?: emptyMap(),
                steps = v["steps"].asArray() ?: error("$f: missing `steps`"),
            )
        }

/** Reads an expected-failures file: one scenario name per line, `#` comments. */
fun loadExpectedFailures(path: Path): List<String> {
    if (!Files.exists(path)) return emptyList()
    return path
        .readText()
        .lines()
        .map { it.substringBefore('#').trim() }
        .filter { it.isNotEmpty() }
}

/** Replaces `${VAR}` in every string; a string that is exactly `${VAR:int}` becomes a number. */
fun substitute(
    value: JsonElement,
    vars: Map<String, String>,
): JsonElement =
    when (value) {
        is JsonPrimitive -> {
            val s = value.asStr()
            if (s == null) {
                value
            } else {
                val name = s.removePrefix("\${").removeSuffix(":int}")
                val n = if (s.startsWith("\${") && s.endsWith(":int}")) vars[name]?.toLongOrNull() else null
                if (n != null) JsonPrimitive(n) else JsonPrimitive(substituteStr(s, vars))
            }
        }

        is JsonArray -> {
            JsonArray(value.map { substitute(it, vars) })
        }

        is JsonObject -> {
            JsonObject(value.entries.associate { (k, v) -> substituteStr(k, vars) to substitute(v, vars) })
        }
    }

private fun substituteStr(
    s: String,
    vars: Map<String, String>,
): String {
    var out = s
    for ((k, v) in vars) {
        out = out.replace("\${$k}", v)
    }
    return out
}

private class State(
    val corral: Corral,
    val tag: String,
    val vars: Map<String, String>,
) {
    val sandboxes = mutableMapOf<String, SandboxHandle>()
    val saved = mutableMapOf<String, String>()
}

/** Runs one scenario to the end; throws [StepFailure] describing the first failed step. */
suspend fun runScenario(
    scenario: Scenario,
    env: Env,
) {
    val tag = "${scenario.name}-${ProcessHandle.current().pid()}"
    val vars = env.vars(tag)
    val home = Files.createTempDirectory("corral-kotlin-")
    val corral =
        try {
            Corral(CorralOptions(provider = env.provider, home = home.toString()))
        } catch (e: CorralException) {
            fail("cannot create Corral: ${describe(e)}")
        }
    val state = State(corral, tag, vars)
    try {
        for ((name, server) in scenario.servers) {
            try {
                corral.addServerFromJson(name, substitute(server, vars).toString())
            } catch (e: CorralException) {
                fail("server $name: ${describe(e)}")
            }
        }
        for ((i, raw) in scenario.steps.withIndex()) {
            val step = substitute(raw, vars)
            try {
                runStep(state, step)
            } catch (e: StepFailure) {
                fail("step ${i + 1} (${opOf(step)}): ${e.message}")
            }
        }
    } finally {
        corral.shutdown()
        state.sandboxes.values.forEach { it.close() }
        corral.close()
        home.toFile().deleteRecursively()
    }
}

private fun opOf(step: JsonElement) = step["op"].asStr() ?: "?"

private fun strField(
    step: JsonElement,
    key: String,
): String = step[key].asStr() ?: fail("missing string field `$key`")

/** Like [strField], as a corral error (the Rust runner's `err_cfg`) for ops that check outcomes. */
private fun strArg(
    step: JsonElement,
    key: String,
): String = step[key].asStr() ?: throw CorralException.InvalidArgument("missing string field `$key`")

private fun expectOf(step: JsonElement): JsonElement = step["expect"] ?: JsonObject(emptyMap())

private fun names(list: List<String>): JsonElement = JsonArray(list.map { JsonPrimitive(it) })

private fun parse(text: String): JsonElement = Json.parseToJsonElement(text)

private suspend fun runStep(
    state: State,
    step: JsonElement,
) {
    val expect = expectOf(step)
    val corral = state.corral
    when (opOf(step)) {
        "execute_tool" -> {
            val (result, progress) = execute(corral, step)
            checkToolResult(expect, result, progress)
        }

        "concurrent" -> {
            val count = step["count"].asU64() ?: 1
            val inner = step["step"] ?: fail("missing `step`")
            val errors =
                coroutineScope {
                    (0 until count)
                        .map { i ->
                            val call = substitute(inner, mapOf("i" to i.toString()))
                            async {
                                val (result, progress) = execute(corral, call)
                                try {
                                    checkToolResult(expectOf(call), result, progress)
                                    null
                                } catch (e: StepFailure) {
                                    "call $i: ${e.message}"
                                }
                            }
                        }.awaitAll()
                }
            errors.firstOrNull { it != null }?.let { fail(it) }
        }

        "discover_tools" -> {
            val r = outcome { corral.discoverTools(strField(step, "server")) }
            checkValue(expect, r.map { tools -> names(tools.map { it.name }) }, Check.NAMES)
        }

        "tool_schema" -> {
            val tools =
                try {
                    corral.discoverTools(strField(step, "server"))
                } catch (e: CorralException) {
                    fail(describe(e))
                }
            val name = strField(step, "tool")
            val tool = tools.firstOrNull { it.name == name } ?: fail("no tool $name")
            val exported =
                JsonObject(
                    mapOf(
                        "openai" to parse(tool.toOpenai()),
                        "anthropic" to parse(tool.toAnthropic()),
                        "input_schema" to parse(tool.inputSchema),
                        "output_schema" to (tool.outputSchema?.let(::parse) ?: JsonNull),
                    ),
                )
            checkValue(expect, Outcome.Ok(exported), Check.JSON)
        }

        "add_server" -> {
            val name = strField(step, "name")
            val config = step["config"] ?: JsonNull
            val r = outcome { corral.addServerFromJson(name, config.toString()) }
            checkValue(expect, r.map { JsonNull }, Check.JSON)
        }

        "remove_server" -> {
            val r = outcome { corral.removeServer(strField(step, "server")) }
            checkValue(expect, r.map { JsonNull }, Check.JSON)
        }

        "list_servers" -> {
            checkValue(expect, Outcome.Ok(names(corral.listServers().map { it.name })), Check.NAMES)
        }

        "load_mcp_servers" -> {
            // A JSON object is passed as its text: the document parser reads JSON first.
            val doc = step["document"] ?: JsonNull
            val text = doc.asStr() ?: doc.toString()
            val r = outcome { corral.loadMcpServers(text) }
            checkValue(expect, r.map { names(it) }, Check.NAMES)
        }

        "restart_server" -> {
            val name = strField(step, "server")
            try {
                corral.addServer(corral.server(name))
            } catch (e: CorralException) {
                fail(describe(e))
            }
        }

        "session_info" -> {
            sessionInfo(state, step, expect)
        }

        "list_resources" -> {
            val r = outcome { corral.session(strArg(step, "server")).use { it.listResources() } }
            checkValue(expect, r.map { list -> names(list.map { it.uri }) }, Check.NAMES)
        }

        "read_resource" -> {
            val r =
                outcome {
                    corral.session(strArg(step, "server")).use { it.readResource(strArg(step, "uri")) }
                }
            val text = r.map { c -> JsonPrimitive(c.mapNotNull { it.text }.joinToString("\n")) }
            checkValue(expect, text, Check.TEXT)
        }

        "list_prompts" -> {
            val r = outcome { corral.session(strArg(step, "server")).use { it.listPrompts() } }
            checkValue(expect, r.map { list -> names(list.map { it.name }) }, Check.NAMES)
        }

        "get_prompt" -> {
            val r =
                outcome {
                    corral.session(strArg(step, "server")).use {
                        it.getPrompt(strArg(step, "name"), (step["args"] ?: JsonNull).toString())
                    }
                }
            val text = r.map { p -> JsonPrimitive(p.messages.mapNotNull { it.content.asText() }.joinToString("\n")) }
            checkValue(expect, text, Check.TEXT)
        }

        "quick" -> {
            val args = step["args"] ?: JsonObject(emptyMap())
            val r = outcome { corral.quick(strField(step, "command"), strField(step, "tool"), args.toString()) }
            checkToolResult(expect, r, emptyList())
        }

        "sandbox_open" -> {
            val id = strField(step, "id")
            val config = sandboxConfig(step["config"] ?: JsonObject(emptyMap()))
            when (val r = outcome { corral.sandbox(config) }) {
                is Outcome.Ok -> {
                    state.sandboxes[id] = r.value
                    checkValue(expect, Outcome.Ok(JsonNull), Check.JSON)
                }

                is Outcome.Err -> {
                    checkValue(expect, r, Check.JSON)
                }
            }
        }

        "sandbox_exec" -> {
            val sb = sandboxOf(state, step)
            val r =
                outcome { sb.exec(strField(step, "script")) }.map { o ->
                    JsonObject(
                        mapOf(
                            "exit_code" to (o.exitCode?.let { JsonPrimitive(it) } ?: JsonNull),
                            "stdout" to JsonPrimitive(o.stdoutText()),
                            "stderr" to JsonPrimitive(o.stderrText()),
                        ),
                    )
                }
            checkValue(expect, r, Check.JSON)
        }

        "sandbox_write" -> {
            val sb = sandboxOf(state, step)
            val r = outcome { sb.writeFile(strField(step, "path"), strField(step, "data").toByteArray()) }
            checkValue(expect, r.map { JsonNull }, Check.JSON)
        }

        "sandbox_read" -> {
            val sb = sandboxOf(state, step)
            val r = outcome { sb.readFile(strField(step, "path")) }
            checkValue(expect, r.map { JsonPrimitive(String(it, Charsets.UTF_8)) }, Check.TEXT)
        }

        "sandbox_close" -> {
            val sb = sandboxOf(state, step)
            try {
                sb.shutdown()
            } catch (e: CorralException) {
                fail(describe(e))
            }
        }

        "sleep" -> {
            delay(step["ms"].asU64() ?: 0)
        }

        "close" -> {
            corral.shutdown()
            corral.shutdown() // idempotent
        }

        "expect_no_processes" -> {
            val needle = "CORRAL_SCENARIO_TAG=${state.tag}"
            repeat(100) {
                if (processesWithEnv(needle).isEmpty()) return
                delay(50)
            }
            fail("processes of the scenario survived: ${processesWithEnv(needle)}")
        }

        else -> {
            fail("unknown op `${opOf(step)}`")
        }
    }
}

private fun <T, U> Outcome<T>.map(f: (T) -> U): Outcome<U> =
    when (this) {
        is Outcome.Ok -> Outcome.Ok(f(value))
        is Outcome.Err -> this
    }

private suspend fun sessionInfo(
    state: State,
    step: JsonElement,
    expect: JsonElement,
) {
    val info =
        outcome {
            state.corral.session(strField(step, "server")).use { s ->
                JsonObject(
                    mapOf(
                        "session_id" to JsonPrimitive(s.sessionId()),
                        "sandbox_id" to (s.sandboxId()?.let { JsonPrimitive(it) } ?: JsonNull),
                        "protocol_version" to JsonPrimitive(s.protocolVersion()),
                    ),
                )
            }
        }
    val id = (info as? Outcome.Ok)?.value?.get("session_id").asStr()
    step["save_as"].asStr()?.let { save -> if (info is Outcome.Ok) state.saved[save] = id ?: "" }
    expect["session_differs_from"].asStr()?.let { other ->
        if (info is Outcome.Ok) {
            val before = state.saved[other] ?: fail("nothing saved as $other")
            if (id == before) fail("session id is still $before")
        }
    }
    expect["session_same_as"].asStr()?.let { other ->
        if (info is Outcome.Ok) {
            val before = state.saved[other] ?: fail("nothing saved as $other")
            if (id != before) fail("session id changed from $before")
        }
    }
    checkValue(expect, info, Check.JSON)
}

private fun sandboxOf(
    state: State,
    step: JsonElement,
): SandboxHandle {
    val id = strField(step, "id")
    return state.sandboxes[id] ?: fail("no sandbox `$id` opened")
}

private fun sandboxConfig(cfg: JsonElement): SandboxConfig {
    val env = cfg["env"].asObject()?.mapValues { (_, v) -> v.asStr() ?: "" } ?: emptyMap()
    val network = if (cfg["network"].asStr() == "none") NetworkPolicy.NONE else null
    val mounts =
        cfg["mounts"].asArray()?.map { m ->
            try {
                parseMount(m.asStr() ?: "")
            } catch (e: CorralException) {
                fail(e.detail())
            }
        } ?: emptyList()
    return SandboxConfig(name = "scenario", env = env, network = network, mounts = mounts)
}

/** Runs an `execute_tool` step; returns the result and the progress seen. */
private suspend fun execute(
    corral: Corral,
    step: JsonElement,
): Pair<Outcome<ToolResult>, List<Progress>> {
    val seen = Collections.synchronizedList(mutableListOf<Progress>())
    val listener =
        object : ProgressListener {
            override fun onProgress(progress: Progress) {
                seen.add(progress)
            }
        }
    val options =
        CallOptions(
            timeout = step["timeout_ms"].asU64()?.let { Duration.ofMillis(it) },
            maxTotal = step["max_total_ms"].asU64()?.let { Duration.ofMillis(it) },
        )
    val server = step["server"].asStr() ?: ""
    val tool = step["tool"].asStr() ?: ""
    val args = (step["args"] ?: JsonObject(emptyMap())).toString()
    val cancelAfter = step["cancel_after_ms"].asU64()
    val result =
        outcome {
            if (cancelAfter == null) {
                corral.executeTool(server, tool, args, options, listener)
            } else {
                // A long operation's handle: cancel it after a while, as the Rust runner's token.
                corral.startTool(server, tool, args, options, listener).use { call ->
                    coroutineScope {
                        val trigger =
                            launch {
                                delay(cancelAfter)
                                call.cancel()
                            }
                        try {
                            call.result()
                        } finally {
                            trigger.cancel()
                        }
                    }
                }
            }
        }
    return result to synchronized(seen) { seen.toList() }
}
