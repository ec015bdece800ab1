package io.github.corralmcp.corral.conformance

import com.sun.jna.Library
import com.sun.jna.Native
import io.github.corralmcp.corral.CallOptions
import io.github.corralmcp.corral.Corral
import io.github.corralmcp.corral.CorralException
import io.github.corralmcp.corral.CorralOptions
import io.github.corralmcp.corral.NetworkPolicy
import io.github.corralmcp.corral.Progress
import io.github.corralmcp.corral.ProgressListener
import io.github.corralmcp.corral.SandboxConfig
import io.github.corralmcp.corral.SandboxHandle
import io.github.corralmcp.corral.Tool
import io.github.corralmcp.corral.parseMount
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
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.longOrNull
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assumptions
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.TestFactory
import org.junit.jupiter.api.TestInstance
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
            try {
                send("seq" to seq, "ok" to runner.perform(request))
            } catch (e: Exception) {
                send("seq" to seq, "error" to errorOf(e))
            }
        }
    }

    @AfterAll
    fun tearDown() {
        output.close()
        checker.waitFor()
    }
}

/** libc's setenv: the JVM cannot change its own environment, the C library can. */
private interface LibC : Library {
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
        obj("kind" to e.code(), "message" to e.detail())
    } else {
        obj("kind" to "NOT_A_CORRAL_ERROR (${e::class.simpleName})", "message" to e.toString())
    }

private fun parse(text: String?): JsonElement = text?.let { Json.parseToJsonElement(it) } ?: JsonNull

// TEMP until canonical serde lands: only ToolResult has toJson() in the Kotlin binding today.
private fun toolJson(t: Tool) =
    obj("name" to t.name, "description" to t.description, "inputSchema" to parse(t.inputSchema), "outputSchema" to parse(t.outputSchema))

private class Runner : AutoCloseable {
    private var corral: Corral? = null
    private val sandboxes = mutableMapOf<String, SandboxHandle>()

    suspend fun perform(r: JsonObject): JsonElement {
        val str = { key: String -> (r[key] as? JsonPrimitive)?.content ?: "" }
        when (str("op")) {
            "setenv" -> check(Native.load("c", LibC::class.java).setenv(str("name"), str("value"), 1) == 0) { "setenv failed" }
            "open" -> corral = Corral(CorralOptions(provider = str("provider"), home = str("home")))
        }
        val c = corral ?: error("no open Corral")
        val sandbox = { sandboxes[str("id")] ?: error("no sandbox ${str("id")}") }
        val session = { c.session(str("server")) }
        return when (str("op")) {
            "setenv", "open" -> JsonNull
            "close" -> c.shutdown().let { JsonNull }
            "add_server" -> c.addServerFromJson(str("name"), (r["config"] ?: JsonNull).toString()).let { JsonNull }
            "remove_server" -> c.removeServer(str("server")).let { JsonNull }
            "restart_server" -> c.addServer(c.server(str("server"))).let { JsonNull }
            "list_servers" -> JsonArray(c.listServers().map { JsonPrimitive(it.name) })
            "load_mcp_servers" -> {
                // A JSON object is passed as its text: the document parser reads JSON first.
                val doc = r["document"] ?: JsonNull
                val text = (doc as? JsonPrimitive)?.takeIf { it.isString }?.content ?: doc.toString()
                JsonArray(c.loadMcpServers(text).map { JsonPrimitive(it) })
            }
            "discover_tools" -> JsonArray(c.discoverTools(str("server")).map(::toolJson))
            "tool_schema" -> {
                val t = c.discoverTools(str("server")).first { it.name == str("tool") }
                JsonObject(toolJson(t) + mapOf("openai" to parse(t.toOpenai()), "anthropic" to parse(t.toAnthropic())))
            }
            "execute_tool" -> execute(c, r)
            "concurrent" ->
                coroutineScope {
                    val calls = r["calls"]!!.jsonArray.map { call ->
                        async {
                            try {
                                obj("ok" to execute(c, call.jsonObject))
                            } catch (e: Exception) {
                                obj("error" to errorOf(e))
                            }
                        }
                    }
                    JsonArray(calls.awaitAll())
                }
            "quick" -> parse(c.quick(str("command"), str("tool"), (r["args"] ?: JsonObject(emptyMap())).toString()).toJson())
            "session_info" ->
                session().use { obj("sessionId" to it.sessionId(), "sandboxId" to it.sandboxId(), "protocolVersion" to it.protocolVersion()) }
            // TEMP until canonical serde lands: these records have no toJson() today.
            "list_resources" -> session().use { s -> JsonArray(s.listResources().map { obj("uri" to it.uri, "name" to it.name) }) }
            "read_resource" -> session().use { s -> JsonArray(s.readResource(str("uri")).map { obj("uri" to it.uri, "text" to it.text) }) }
            "list_prompts" -> session().use { s -> JsonArray(s.listPrompts().map { obj("name" to it.name) }) }
            "get_prompt" ->
                session().use { s ->
                    val p = s.getPrompt(str("name"), (r["args"] ?: JsonNull).toString())
                    val messages = p.messages.map { obj("role" to it.role, "content" to obj("type" to "text", "text" to it.content.asText())) }
                    obj("messages" to JsonArray(messages))
                }
            "sandbox_open" -> {
                val cfg = r["config"] as? JsonObject
                val config =
                    SandboxConfig(
                        name = "scenario",
                        env = cfg?.get("env")?.jsonObject?.mapValues { it.value.jsonPrimitive.content } ?: emptyMap(),
                        network = if ((cfg?.get("network") as? JsonPrimitive)?.content == "none") NetworkPolicy.NONE else null,
                        mounts = cfg?.get("mounts")?.jsonArray?.map { parseMount(it.jsonPrimitive.content) } ?: emptyList(),
                    )
                sandboxes[str("id")] = c.sandbox(config)
                JsonNull
            }
            // TEMP until canonical serde lands: ExecOutput has no toJson() today.
            "sandbox_exec" -> sandbox().exec(str("script")).let { obj("exitCode" to it.exitCode, "stdout" to it.stdoutText(), "stderr" to it.stderrText()) }
            "sandbox_write" -> sandbox().writeFile(str("path"), str("data").toByteArray()).let { JsonNull }
            "sandbox_read" -> JsonPrimitive(String(sandbox().readFile(str("path")), Charsets.UTF_8))
            "sandbox_close" -> sandbox().shutdown().let { JsonNull }
            else -> error("unknown op ${str("op")}")
        }
    }

    /** `{result, progress}` of an `execute_tool` request; `cancel_after_ms` cancels its handle. */
    private suspend fun execute(
        c: Corral,
        r: JsonObject,
    ): JsonElement {
        val seen = Collections.synchronizedList(mutableListOf<Progress>())
        val listener =
            object : ProgressListener {
                override fun onProgress(progress: Progress) {
                    seen.add(progress)
                }
            }
        val ms = { key: String -> (r[key] as? JsonPrimitive)?.longOrNull?.let { Duration.ofMillis(it) } }
        val options = CallOptions(timeout = ms("timeout_ms"), maxTotal = ms("max_total_ms"))
        val args = listOf((r["server"] as JsonPrimitive).content, (r["tool"] as JsonPrimitive).content, (r["args"] ?: JsonObject(emptyMap())).toString())
        val after = ms("cancel_after_ms")
        val result =
            if (after == null) {
                c.executeTool(args[0], args[1], args[2], options, listener)
            } else {
                c.startTool(args[0], args[1], args[2], options, listener).use { call ->
                    coroutineScope {
                        val trigger = launch {
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
        val progress = synchronized(seen) { seen.map { obj("progress" to it.progress, "total" to it.total, "message" to it.message) } }
        return obj("result" to parse(result.toJson()), "progress" to JsonArray(progress))
    }

    override fun close() {
        sandboxes.values.forEach { it.close() }
        corral?.close()
    }
}
