package io.github.corralmcp.corral.conformance

import com.sun.jna.Library
import com.sun.jna.Native
import io.github.corralmcp.corral.CallOptions
import io.github.corralmcp.corral.Corral
import io.github.corralmcp.corral.CorralException
import io.github.corralmcp.corral.CorralOptions
import io.github.corralmcp.corral.Gateway
import io.github.corralmcp.corral.Progress
import io.github.corralmcp.corral.ProgressListener
import io.github.corralmcp.corral.Sandbox
import io.github.corralmcp.corral.ServerSession
import io.github.corralmcp.corral.StartEvent
import io.github.corralmcp.corral.StartListener
import io.github.corralmcp.corral.gatewayOptionsFromJson
import io.github.corralmcp.corral.sandboxConfigFromJson
import io.github.corralmcp.corral.serverConfigFromJson
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.contentOrNull
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.longOrNull
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assumptions
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.TestFactory
import org.junit.jupiter.api.TestInstance
import java.lang.ref.WeakReference
import java.time.Duration
import java.util.Collections
import kotlin.test.fail

/**
 * The Kotlin runner of the shared conformance suite (tests/conformance/README.md), one JUnit test
 * per scenario. The checker (`corral-conformance kotlin`, a child process) owns the suite's
 * meaning: it sets up the environment, expands placeholders, sends each step's op as a JSON line,
 * checks the answers and applies the expected-failures baseline. This class only performs each op
 * through the Kotlin API and answers with the observation (canonical camelCase JSON).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConformanceTest {
    private val checker: Process =
        ProcessBuilder(
            System.getenv("CORRAL_CONFORMANCE") ?: System.getProperty("corral.conformance")
                ?: fail("set CORRAL_CONFORMANCE or -Dcorral.conformance to the corral-conformance binary"),
            "kotlin",
        ).redirectError(ProcessBuilder.Redirect.INHERIT).start()
    private val input = checker.inputStream.bufferedReader()
    private val output = checker.outputStream.bufferedWriter()

    private fun receive(): JsonObject =
        Json.parseToJsonElement(input.readLine() ?: fail("the checker exited (its stderr says why)")).jsonObject

    private fun send(vararg fields: Pair<String, JsonElement>) {
        output.write(JsonObject(mapOf(*fields)).toString())
        output.newLine()
        output.flush()
    }

    @TestFactory
    fun scenarios(): List<DynamicTest> =
        receive()["scenarios"]!!.jsonArray.map { it.jsonPrimitive.content }.map { name ->
            DynamicTest.dynamicTest(name) {
                send("run" to JsonPrimitive(name))
                val verdict = Runner().use { runBlocking { serve(it) } }
                val message = verdict["message"]?.jsonPrimitive?.content ?: ""
                val outcome = verdict["outcome"]?.jsonPrimitive?.content
                println("conformance (kotlin): $name ... $outcome")
                when (outcome) {
                    "passed" -> Unit
                    "skipped", "expected_failure" -> Assumptions.abort<Unit>(message)
                    else -> fail(message)
                }
            }
        }

    private suspend fun serve(runner: Runner): JsonObject {
        while (true) {
            val request = receive()
            val seq = request["seq"] ?: return request
            send("seq" to seq, *answer { runner.perform(request) }.toList().toTypedArray())
        }
    }

    @AfterAll
    fun tearDown() {
        output.close()
        checker.waitFor()
    }
}

/** libc's setenv: the JVM cannot change its own environment, the C library can. */
internal interface LibC : Library {
    fun setenv(
        name: String,
        value: String,
        overwrite: Int,
    ): Int
}

private fun obj(vararg fields: Pair<String, Any?>): JsonObject =
    JsonObject(
        fields.associate { (k, v) ->
            k to
                when (v) {
                    is JsonElement -> v
                    is Number -> JsonPrimitive(v)
                    else -> JsonPrimitive(v as String?)
                }
        },
    )

private fun errorOf(e: Exception): JsonObject =
    if (e is CorralException) {
        obj("kind" to e.code(), "message" to e.detail(), "field" to e.field())
    } else {
        obj("kind" to "NOT_A_CORRAL_ERROR (${e::class.simpleName})", "message" to e.toString())
    }

private fun parse(text: String?): JsonElement = text?.let { Json.parseToJsonElement(it) } ?: JsonNull

private fun JsonObject.str(key: String) = (this[key] as? JsonPrimitive)?.content ?: ""

/** The JSON text of a value (a string: the string itself, when `raw`). */
private fun JsonObject.text(
    key: String,
    raw: Boolean = false,
) = (this[key] as? JsonPrimitive)?.takeIf { raw && it.isString }?.content ?: (this[key] ?: JsonObject(emptyMap())).toString()

private infix fun String.does(f: suspend (JsonObject) -> Any?) = this to f

private class Runner : AutoCloseable {
    private var corral: Corral? = null
    private val c get() = corral ?: error("no open Corral")
    private val sandboxes = mutableMapOf<String, Sandbox>()
    private val sessions = mutableMapOf<String, ServerSession>()
    private var gateway: Gateway? = null

    /** Every start event since `open`, canonical JSON. */
    private val startEvents = Collections.synchronizedList(mutableListOf<JsonElement>())
    private val onStart =
        object : StartListener {
            override fun onStart(event: StartEvent) {
                startEvents.add(parse(event.toJson()))
            }
        }

    /** Lets go of the corral and every handle without closing them, and collects them. */
    private fun drop() {
        val refs = (listOfNotNull<Any>(corral, gateway) + sandboxes.values + sessions.values).map { WeakReference(it) }
        corral = null
        gateway = null
        sandboxes.clear()
        sessions.clear()
        for (i in 0 until 200) {
            if (refs.all { it.get() == null }) break
            System.gc()
            Thread.sleep(25)
        }
    }

    private suspend fun closeGateway() {
        gateway?.use { it.shutdown() }
        gateway = null
    }

    private fun sandbox(r: JsonObject) = sandboxes[r.str("id")] ?: error("no sandbox ${r.str("id")}")

    private suspend fun session(r: JsonObject) = c.session(r.str("server"))

    // Observations are the records' own canonical JSON (`toJson()`).
    private val ops =
        mapOf(
            "setenv" does { check(Native.load("c", LibC::class.java).setenv(it.str("name"), it.str("value"), 1) == 0) },
            "open" does {
                startEvents.clear()
                val made = Corral(CorralOptions(provider = it.str("provider"), home = it.str("home")))
                made.setStartCallback(onStart)
                corral = made
            },
            "close" does { corral?.shutdown() },
            "drop" does { drop() },
            "start_events" does { JsonArray(synchronized(startEvents) { startEvents.toList() }) },
            "add_server" does { c.addServerFromJson(it.str("name"), it.text("config")) },
            "remove_server" does { c.removeServer(it.str("server")) },
            "restart_server" does { c.addServer(c.server(it.str("server"))) },
            "list_servers" does { JsonArray(c.listServers().map { s -> JsonPrimitive(s.name) }) },
            // A JSON object is passed as its text: the document parser reads JSON first.
            "load_mcp_servers" does { r ->
                val flag = { key: String -> (r[key] as? JsonPrimitive)?.content == "true" }
                val names = c.loadMcpServers(r.text("document", raw = true), flag("mount_args"), flag("expand_env"))
                JsonArray(names.map { s -> JsonPrimitive(s) })
            },
            "discover_tools" does { JsonArray(c.discoverTools(it.str("server")).map { t -> parse(t.toJson()) }) },
            "tool_schema" does { r ->
                val t = c.discoverTools(r.str("server")).first { it.name == r.str("tool") }
                JsonObject(parse(t.toJson()).jsonObject + mapOf("openai" to parse(t.toOpenai()), "anthropic" to parse(t.toAnthropic())))
            },
            "execute_tool" does { execute(it) },
            "concurrent" does { r ->
                coroutineScope {
                    val calls = r["calls"]!!.jsonArray.map { async { answer { execute(it.jsonObject) } } }
                    JsonArray(calls.awaitAll())
                }
            },
            "quick" does { r ->
                val result =
                    if (r["config"] == null) {
                        c.quick(r.str("command"), r.str("tool"), r.text("args"))
                    } else {
                        c.quickWith(serverConfigFromJson("quick", r.text("config")), r.str("tool"), r.text("args"))
                    }
                parse(result.toJson())
            },
            "session_open" does { r -> sessions[r.str("id")] = session(r) },
            "session_execute" does { r ->
                val s = sessions[r.str("id")] ?: error("no session ${r.str("id")}")
                parse(s.callTool(r.str("tool"), r.text("args")).toJson())
            },
            "session_close" does { r -> sessions[r.str("id")]?.shutdown() },
            "session_info" does {
                session(it).use { s ->
                    obj(
                        "sessionId" to s.sessionId(),
                        "sandboxId" to s.sandboxId(),
                        "protocolVersion" to s.protocolVersion(),
                    )
                }
            },
            "list_resources" does { session(it).use { s -> JsonArray(s.listResources().map { x -> parse(x.toJson()) }) } },
            "read_resource" does { r -> session(r).use { s -> JsonArray(s.readResource(r.str("uri")).map { parse(it.toJson()) }) } },
            "list_prompts" does { session(it).use { s -> JsonArray(s.listPrompts().map { p -> parse(p.toJson()) }) } },
            "get_prompt" does { r -> parse(session(r).use { it.getPrompt(r.str("name"), r.text("args")) }.toJson()) },
            "sandbox_open" does { c.sandbox(sandboxConfigFromJson(it.text("config"))).also { s -> sandboxes[it.str("id")] = s } },
            "sandbox_exec" does { parse(sandbox(it).exec(it.str("script")).toJson()) },
            "sandbox_write" does { sandbox(it).writeFile(it.str("path"), it.str("data").toByteArray()) },
            "sandbox_read" does { JsonPrimitive(String(sandbox(it).readFile(it.str("path")), Charsets.UTF_8)) },
            "sandbox_close" does { sandbox(it).shutdown() },
            "build_template" does { r ->
                val commands = r["install_commands"]?.jsonArray?.map { it.jsonPrimitive.content } ?: emptyList()
                parse(c.buildTemplate(r.str("name"), commands, (r["base"] as? JsonPrimitive)?.contentOrNull).toJson())
            },
            "list_templates" does { JsonArray(c.listTemplates().map { t -> parse(t.toJson()) }) },
            "remove_template" does { c.removeTemplate(it.str("name")) },
            "start_gateway" does {
                val started = c.startGateway(gatewayOptionsFromJson(it.text("options")))
                closeGateway()
                gateway = started
                obj("url" to started.url(), "token" to started.token())
            },
            "gateway_close" does { closeGateway() },
        )

    suspend fun perform(r: JsonObject): JsonElement {
        val op = ops[r.str("op")] ?: error("unknown op ${r.str("op")}")
        return op(r) as? JsonElement ?: JsonNull
    }

    /** `{result, progress}` of an `execute_tool` request; `cancel_after_ms` cancels its handle. */
    private suspend fun execute(r: JsonObject): JsonElement {
        val seen = Collections.synchronizedList(mutableListOf<Progress>())
        val listener =
            object : ProgressListener {
                override fun onProgress(progress: Progress) {
                    seen.add(progress)
                }
            }
        val ms = { key: String -> (r[key] as? JsonPrimitive)?.longOrNull?.let { Duration.ofMillis(it) } }
        val options = CallOptions(timeout = ms("timeout_ms"), maxTotal = ms("max_total_ms"))
        val after = ms("cancel_after_ms")
        val result =
            if (after == null) {
                c.executeTool(r.str("server"), r.str("tool"), r.text("args"), options, listener)
            } else {
                c.startTool(r.str("server"), r.str("tool"), r.text("args"), options, listener).use { call ->
                    coroutineScope {
                        val trigger =
                            launch {
                                delay(after.toMillis())
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
        val progress = synchronized(seen) { seen.map { parse(it.toJson()) } }
        return obj("result" to parse(result.toJson()), "progress" to JsonArray(progress))
    }

    override fun close() {
        gateway?.close()
        sandboxes.values.forEach { it.close() }
        sessions.values.forEach { it.close() }
        corral?.close()
    }
}

/** `{"ok": …}` or `{"error": …}` of one call. */
private suspend fun answer(f: suspend () -> JsonElement): JsonObject =
    try {
        obj("ok" to f())
    } catch (e: Exception) {
        obj("error" to errorOf(e))
    }
