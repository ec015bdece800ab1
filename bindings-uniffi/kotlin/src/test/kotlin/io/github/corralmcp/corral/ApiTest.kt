package io.github.corralmcp.corral

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Test
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.util.Collections
import java.util.UUID
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** The Kotlin API itself: types, errors, cancellation, callbacks, lifetimes. Real servers, real sandboxes. */
class ApiTest {
    private val home: Path = Files.createTempDirectory("corral-kotlin-api-")
    private val tag = "kotlin-api-${UUID.randomUUID()}"

    @AfterEach
    fun cleanUp() {
        home.toFile().deleteRecursively()
    }

    private fun newCorral() = Corral(CorralOptions(home = home.toString()))

    /** The fixture server, tagged so that its processes can be found in /proc. */
    private fun fixture(
        name: String = "fx",
        vararg args: String,
    ) = ServerConfig(
        name = name,
        transport = Transport.Stdio(listOf(fixtureServer()) + args),
        env = mapOf("CORRAL_SCENARIO_TAG" to tag),
    )

    private suspend fun assertNoProcessesLeft() {
        val needle = "CORRAL_SCENARIO_TAG=$tag"
        repeat(100) {
            if (processesWithEnv(needle).isEmpty()) return
            delay(50)
        }
        throw AssertionError("processes survived: ${processesWithEnv(needle)}")
    }

    @Test
    fun `errors carry the stable kind`() =
        runBlocking<Unit> {
            newCorral().use { corral ->
                val e = assertFailsWith<CorralException.ServerNotFound> { corral.executeTool("nope", "echo") }
                assertEquals(ErrorKind.SERVER_NOT_FOUND, e.kind())
                assertEquals("SERVER_NOT_FOUND", e.code())
                assertFalse(e.isRetryable())
                assertFalse(e.toString().startsWith("SERVER_NOT_FOUND"), e.toString())
                assertNull(e.field())
                corral.addServer(fixture())
                val bad = assertFailsWith<CorralException> { corral.executeTool("fx", "echo", "{not json") }
                assertEquals(ErrorKind.INVALID_ARGUMENT, bad.kind())
                assertEquals("arguments", bad.field())
                val notObject = assertFailsWith<CorralException> { corral.executeTool("fx", "echo", "[1]") }
                assertEquals(ErrorKind.INVALID_ARGUMENT, notObject.kind())
                val tool = assertFailsWith<CorralException> { corral.executeTool("fx", "no_such_tool") }
                assertEquals(ErrorKind.TOOL_NOT_FOUND, tool.kind())
            }
            val config =
                assertFailsWith<CorralException.ConfigInvalid> { serverConfigFromJson("fs", """{"command": "x", "env": {"1BAD": "v"}}""") }
            assertContains(config.detail(), "servers.fs.env.1BAD")
            assertEquals("servers.fs.env.1BAD", config.field())
            assertEquals(ErrorKind.CONFIG_INVALID, assertFailsWith<CorralException> { Corral(CorralOptions(provider = "nope")) }.kind())
            // A tool that reports failure is a result, not an exception.
            newCorral().use { corral ->
                corral.addServer(fixture())
                val r = corral.executeTool("fx", "fail", """{"message": "boom"}""")
                assertTrue(r.isError)
                assertEquals("failed: boom", r.text())
            }
        }

    @Test
    fun `every kind's code is its name`() {
        for (kind in ErrorKind.entries) assertEquals(kind.name, kind.code())
        assertTrue(ErrorKind.TIMEOUT.isRetryable())
        assertFalse(ErrorKind.CLOSED.isRetryable())
    }

    @Test
    fun `configs are typed and round-trip through JSON`() {
        val c = serverConfigFromCommand("fs", "npx -y '@scope/pkg' \"/my data\"")
        assertEquals(Transport.Stdio(listOf("npx", "-y", "@scope/pkg", "/my data")), c.transport)
        assertEquals(Duration.ofSeconds(60), c.callTimeout)
        assertEquals(Duration.ofMinutes(10), c.idleTimeout)
        assertEquals(NetworkPolicy.ALL, c.network)
        val full =
            c.copy(
                env = mapOf("A" to "1"),
                network = NetworkPolicy.NONE,
                mounts = listOf(parseMount("/srv/data:/data:rw")),
                limits = Limits(memoryMb = 256u),
                allowTools = listOf("read_file"),
                denyTools = listOf("write_file"),
                callTimeout = Duration.ofMillis(2500),
                tags = listOf("prod"),
            )
        assertFalse(full.mounts[0].readOnly)
        assertEquals(full, serverConfigFromJson("fs", full.toJson()))
        val tags = Json.parseToJsonElement(full.toJson()).jsonObject["tags"]!!.jsonArray
        assertEquals(listOf("prod"), tags.map { it.jsonPrimitive.content })
        val remote = serverConfigFromUrl("r", "https://example.com/mcp", mapOf("Authorization" to "Bearer x"))
        assertEquals(Transport.Http("https://example.com/mcp", mapOf("Authorization" to "Bearer x")), remote.transport)
        val servers = parseMcpServers("[servers.fx]\ncommand = \"srv --flag\"\nnetwork = \"none\"\n")
        assertEquals(listOf("fx"), servers.map { it.name })
        assertEquals(NetworkPolicy.NONE, servers[0].network)
        val sandbox = sandboxConfigFromJson("""{"network": "none", "env": {"A": "1"}}""")
        assertEquals(NetworkPolicy.NONE, sandbox.network)
        assertEquals(ErrorKind.CONFIG_INVALID, assertFailsWith<CorralException> { parseMount("relative") }.kind())
    }

    @Test
    fun `servers, tools and results`() =
        runBlocking<Unit> {
            newCorral().use { corral ->
                corral.addServer(fixture())
                corral.addServerFromJson(
                    "paged",
                    """{"command": ["${fixtureServer()}", "--tools", "3"], "env": {"CORRAL_SCENARIO_TAG": "$tag"}}""",
                )
                assertEquals(listOf("fx", "paged"), corral.listServers().map { it.name })
                assertEquals(Duration.ofSeconds(60), corral.server("fx").callTimeout)
                val tools = corral.discoverTools("paged")
                assertContains(tools.map { it.name }, "tool_002")
                val add = tools.first { it.name == "add" }
                val openai = Json.parseToJsonElement(add.toOpenai()).jsonObject
                assertEquals("function", openai["type"]?.jsonPrimitive?.content)
                assertEquals(
                    "object",
                    Json
                        .parseToJsonElement(add.toAnthropic())
                        .jsonObject["input_schema"]!!
                        .jsonObject["type"]!!
                        .jsonPrimitive.content,
                )
                val sum = corral.executeTool("fx", "add", """{"a": 2, "b": 3}""")
                assertEquals("5", sum.text())
                assertEquals(listOf<Content>(Content.Text("5")), sum.content)
                assertEquals(
                    "5",
                    Json
                        .parseToJsonElement(sum.structuredContent!!)
                        .jsonObject["sum"]!!
                        .jsonPrimitive.content,
                )
                assertEquals(
                    "5",
                    Json
                        .parseToJsonElement(sum.toJson())
                        .jsonObject["structuredContent"]!!
                        .jsonObject["sum"]!!
                        .jsonPrimitive.content,
                )
                corral.removeServer("paged")
                assertEquals(listOf("fx"), corral.listServers().map { it.name })
                assertFailsWith<CorralException.ServerNotFound> { corral.removeServer("paged") }
                val loaded =
                    corral.loadMcpServers(
                        """{"mcpServers": {"one": {"command": "${fixtureServer()}", "env": {"CORRAL_SCENARIO_TAG": "$tag"}}}}""",
                    )
                assertEquals(listOf("one"), loaded)
                assertEquals("quick", corral.quick(fixtureServer(), "echo", """{"text": "quick"}""").text())
                assertEquals("q", corral.quickWith(fixture("q"), "echo", """{"text": "q"}""").text())
            }
            assertNoProcessesLeft()
        }

    @Test
    fun `sessions give resources, prompts and repeated calls`() =
        runBlocking<Unit> {
            newCorral().use { corral ->
                corral.addServer(fixture())
                corral.session("fx").use { s ->
                    assertEquals("fx", s.server())
                    assertEquals("2026-07-28", s.protocolVersion())
                    assertTrue(s.sandboxId() != null)
                    assertContains(s.listTools().map { it.name }, "echo")
                    assertEquals("again", s.callTool("echo", """{"text": "again"}""").text())
                    assertEquals(listOf("fixture://hello"), s.listResources().map { it.uri })
                    assertEquals("Hello from the fixture", s.readResource("fixture://hello").single().text)
                    assertContains(s.listPrompts().map { it.name }, "greet")
                    val prompt = s.getPrompt("greet", """{"name": "Ada"}""")
                    assertEquals(
                        "Hello, Ada!",
                        prompt.messages
                            .single()
                            .content
                            .asText(),
                    )
                    // The handle shares the warm session.
                    corral.session("fx").use { other -> assertEquals(s.sessionId(), other.sessionId()) }
                }
                // Closing a handle ends the handle only: calls on it fail with CLOSED, the server stays warm.
                val s = corral.session("fx")
                val id = s.sessionId()
                s.shutdown()
                s.shutdown()
                assertTrue(s.isClosed())
                assertEquals(ErrorKind.CLOSED, assertFailsWith<CorralException.Closed> { s.listTools() }.kind())
                assertEquals(ErrorKind.CLOSED, assertFailsWith<CorralException> { s.callTool("echo", """{"text": "x"}""") }.kind())
                s.close()
                corral.session("fx").use { assertEquals(id, it.sessionId()) }
            }
        }

    @Test
    fun `cancelling the coroutine cancels the call, the session carries on`() =
        runBlocking<Unit> {
            newCorral().use { corral ->
                corral.addServer(fixture())
                val before = corral.session("fx").use { it.sessionId() }
                assertFailsWith<TimeoutCancellationException> {
                    withTimeout(300) { corral.executeTool("fx", "sleep", """{"ms": 20000}""") }
                }
                assertEquals("after", corral.executeTool("fx", "echo", """{"text": "after"}""").text())
                assertEquals(before, corral.session("fx").use { it.sessionId() })
            }
        }

    @Test
    fun `a started call can be cancelled and awaited`() =
        runBlocking<Unit> {
            newCorral().use { corral ->
                corral.addServer(fixture())
                corral.startTool("fx", "sleep", """{"ms": 20000}""").use { call ->
                    assertFalse(call.isDone())
                    delay(200)
                    call.cancel()
                    assertEquals(ErrorKind.CANCELLED, assertFailsWith<CorralException> { call.result() }.kind())
                    assertTrue(call.isDone())
                    // The outcome stays available.
                    assertEquals(ErrorKind.CANCELLED, assertFailsWith<CorralException> { call.result() }.kind())
                }
                corral.startTool("fx", "echo", """{"text": "done"}""").use { call ->
                    assertEquals("done", call.result().text())
                    call.cancel() // after the end: no effect
                    assertEquals("done", call.result().text())
                }
            }
        }

    @Test
    fun `timeouts are errors of kind TIMEOUT`() =
        runBlocking<Unit> {
            newCorral().use { corral ->
                corral.addServer(fixture())
                val e =
                    assertFailsWith<CorralException.Timeout> {
                        corral.executeTool(
                            "fx",
                            "sleep",
                            """{"ms": 30000, "progress": false}""",
                            CallOptions(timeout = Duration.ofMillis(300)),
                        )
                    }
                assertTrue(e.isRetryable())
            }
        }

    @Test
    fun `progress and log listeners`() =
        runBlocking<Unit> {
            newCorral().use { corral ->
                val logs = Collections.synchronizedList(mutableListOf<LogMessage>())
                corral.setLogCallback(
                    object : LogListener {
                        override fun onLog(message: LogMessage) {
                            logs += message
                        }
                    },
                )
                corral.addServer(fixture())
                val seen = Collections.synchronizedList(mutableListOf<Progress>())
                val r =
                    corral.executeTool(
                        "fx",
                        "sleep",
                        """{"ms": 350}""",
                        onProgress =
                            object : ProgressListener {
                                override fun onProgress(progress: Progress) {
                                    seen += progress
                                }
                            },
                    )
                assertEquals("slept 350", r.text())
                assertTrue(seen.size >= 2, "progress: $seen")
                assertEquals("logged", corral.executeTool("fx", "log", """{"message": "hello log", "level": "warning"}""").text())
                // The notification may be handled just after the call's reply: wait for it.
                repeat(200) { if (logs.isEmpty()) delay(25) }
                val log = logs.single()
                assertEquals("fx", log.server)
                assertEquals("warning", log.level)
                assertEquals("fixture", log.logger)
                assertEquals("\"hello log\"", log.data)
            }
        }

    @Test
    fun `start events and argument checks`() =
        runBlocking<Unit> {
            newCorral().use { corral ->
                val events = Collections.synchronizedList(mutableListOf<StartEvent>())
                corral.setStartCallback(
                    object : StartListener {
                        override fun onStart(event: StartEvent) {
                            events += event
                        }
                    },
                )
                corral.addServer(fixture().copy(installCommands = listOf("echo installing")))
                val add = corral.discoverTools("fx").first { it.name == "add" }
                assertEquals(StartEvent.InstallStarted("fx", 1u, 1u, "echo installing"), events[0])
                val finished = events[1] as StartEvent.InstallFinished
                assertEquals(0, finished.exitCode)
                assertContains(finished.output, "installing")
                assertEquals(StartEvent.ServerStarting("fx"), events[2])
                assertEquals(StartEvent.ServerReady("fx", "2026-07-28"), events[3])
                add.checkArguments("""{"a": 1, "b": 2}""")
                val bad = assertFailsWith<CorralException> { add.checkArguments("""{"a": "one"}""") }
                assertEquals(ErrorKind.INVALID_ARGUMENT, bad.kind())
                assertContains(add.describeParameters(), "a")
            }
        }

    @Test
    fun `a listener that throws does not break the call`() =
        runBlocking<Unit> {
            newCorral().use { corral ->
                corral.addServer(fixture())
                val angry =
                    object : ProgressListener {
                        override fun onProgress(progress: Progress): Unit = throw IllegalStateException("listener bug")
                    }
                assertEquals("slept 250", corral.executeTool("fx", "sleep", """{"ms": 250}""", onProgress = angry).text())
                assertEquals("still", corral.executeTool("fx", "echo", """{"text": "still"}""").text())
            }
        }

    @Test
    fun `sandboxes run commands and move bytes`() =
        runBlocking<Unit> {
            newCorral().use { corral ->
                corral.sandbox(SandboxConfig(env = mapOf("GREETING" to "hi"), network = NetworkPolicy.NONE)).use { sb ->
                    val out = sb.exec("echo \$GREETING; echo err >&2; exit 4")
                    assertEquals(4, out.exitCode)
                    assertFalse(out.success())
                    assertEquals("hi\n", out.stdoutText())
                    assertEquals("err\n", out.stderrText())
                    val bytes = byteArrayOf(0, 1, 2, -1)
                    sb.writeFile("/home/corral/blob", bytes)
                    assertTrue(bytes.contentEquals(sb.readFile("/home/corral/blob")))
                    val piped = sb.execCommand(ExecCommand(argv = listOf("cat"), stdin = "from stdin".toByteArray()))
                    assertEquals("from stdin", piped.stdoutText())
                    assertEquals(ErrorKind.IO, assertFailsWith<CorralException> { sb.readFile("/nonexistent/file") }.kind())
                    sb.shutdown()
                    assertFailsWith<CorralException> { sb.exec("true") }
                }
            }
        }

    @Test
    fun `many concurrent calls from many threads`() =
        runBlocking<Unit> {
            newCorral().use { corral ->
                corral.addServer(fixture())
                val texts =
                    withContext(Dispatchers.Default) {
                        (0 until 32).map { i -> async { corral.executeTool("fx", "echo", """{"text": "m$i"}""").text() } }.awaitAll()
                    }
                assertEquals((0 until 32).map { "m$it" }, texts)
            }
        }

    @Test
    fun `shutdown stops everything and is idempotent`() =
        runBlocking<Unit> {
            val corral = newCorral()
            corral.addServer(fixture())
            corral.executeTool("fx", "spawn_orphan")
            corral.shutdown()
            corral.shutdown()
            assertTrue(corral.isClosed())
            assertEquals(ErrorKind.CLOSED, assertFailsWith<CorralException> { corral.executeTool("fx", "echo") }.kind())
            assertNoProcessesLeft()
            corral.close()
        }

    @Test
    fun `use {} stops every server and sandbox`() =
        runBlocking<Unit> {
            newCorral().use { corral ->
                corral.addServer(fixture())
                corral.executeTool("fx", "spawn_orphan")
                val sb = corral.sandbox(SandboxConfig(env = mapOf("CORRAL_SCENARIO_TAG" to tag)))
                assertEquals("started\n", sb.exec("setsid sleep 600 >/dev/null 2>&1 < /dev/null & echo started").stdoutText())
                assertNotEquals(emptyList(), processesWithEnv("CORRAL_SCENARIO_TAG=$tag"))
            }
            assertNoProcessesLeft()
        }

    /** A POST to the gateway's endpoint: (status, body). `token` null: no Authorization header. */
    private fun post(
        url: String,
        token: String?,
        body: String,
    ): Pair<Int, String> {
        val request =
            HttpRequest
                .newBuilder(URI.create(url))
                .header("Content-Type", "application/json")
                .header("Accept", "application/json, text/event-stream")
                .apply { token?.let { header("Authorization", "Bearer $it") } }
                .timeout(Duration.ofSeconds(20))
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build()
        val response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString())
        return response.statusCode() to response.body()
    }

    private val initialize =
        """{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25",
           "capabilities": {}, "clientInfo": {"name": "kotlin-api-test", "version": "1"}}}"""

    @Test
    fun `a gateway publishes the servers behind one token, and closes with its corral`() =
        runBlocking<Unit> {
            val corral = newCorral()
            corral.addServer(fixture("a"))
            corral.addServer(fixture("b"))
            corral.startGateway(GatewayOptions(servers = listOf("a"), toolBudget = 500UL)).use { gw ->
                assertTrue(gw.url().startsWith("http://127.0.0.1:") && gw.url().endsWith("/mcp"), gw.url())
                assertEquals(gw.url(), gw.getMcpUrl())
                assertEquals(gw.token(), gw.getMcpToken())
                assertTrue(gw.token().length >= 22)
                assertTrue(gw.waitSettled(Duration.ofSeconds(30)))
                val health = gw.servers().single()
                assertEquals("a", health.name)
                assertEquals(ServerState.READY, health.state)
                assertTrue(health.toolCount > 0UL)
                assertEquals(
                    "ready",
                    Json
                        .parseToJsonElement(health.toJson())
                        .jsonObject["state"]
                        ?.jsonPrimitive
                        ?.content,
                )
                assertEquals(401, post(gw.url(), null, initialize).first)
                assertEquals(401, post(gw.url(), "wrong-token-wrong-token", initialize).first)
                val (status, body) = post(gw.url(), gw.token(), initialize)
                assertEquals(200, status, body)
                assertContains(body, "protocolVersion")
                gw.shutdown()
                gw.shutdown()
                assertFailsWith<java.io.IOException> { post(gw.url(), gw.token(), initialize) }
            }
            val options = gatewayOptionsFromJson("""{"toolBudget": 3, "restart_backoff_ms": 50}""")
            assertEquals(3UL, options.toolBudget)
            assertEquals(50UL, options.restartBackoffMs)
            val bad = assertFailsWith<CorralException> { corral.startGateway(GatewayOptions(toolBudget = 1UL)) }
            assertEquals(ErrorKind.CONFIG_INVALID, bad.kind())
            assertEquals(
                ErrorKind.SERVER_NOT_FOUND,
                assertFailsWith<CorralException> {
                    corral.startGateway(GatewayOptions(servers = listOf("zz")))
                }.kind(),
            )
            // Closing the corral closes its gateways.
            val gw = corral.startGateway()
            assertEquals(200, post(gw.url(), gw.token(), initialize).first)
            corral.shutdown()
            assertFailsWith<java.io.IOException> { post(gw.url(), gw.token(), initialize) }
            gw.close()
            corral.close()
            assertNoProcessesLeft()
        }

    @Test
    fun `a gateway on a corral of its own closes that corral with it`() =
        runBlocking<Unit> {
            val mcp = """{"fx": {"command": ["${fixtureServer()}"], "env": {"CORRAL_SCENARIO_TAG": "$tag"}}}"""
            startGateway(CorralOptions(home = home.toString()), GatewayOptions(mcp = mcp)).use { gw ->
                assertTrue(gw.waitSettled(Duration.ofSeconds(30)))
                val health = gw.servers().single()
                assertEquals("fx" to ServerState.READY, health.name to health.state)
                assertTrue(health.toolCount > 0UL)
                assertEquals(200, post(gw.url(), gw.token(), initialize).first)
                assertNotEquals(emptyList(), processesWithEnv("CORRAL_SCENARIO_TAG=$tag"))
                gw.shutdown()
            }
            assertNoProcessesLeft()
        }

    @Test
    fun `templates, files and disk limits`() =
        runBlocking<Unit> {
            newCorral().use { corral ->
                val t = corral.buildTemplate("tools", listOf("mkdir -p /opt && echo tpl > /opt/tpl.txt"))
                assertEquals("tools", t.name)
                assertEquals(listOf("mkdir -p /opt && echo tpl > /opt/tpl.txt"), t.installCommands)
                assertNull(t.base)
                assertEquals(t.id, corral.buildTemplate("tools", t.installCommands).id)
                assertEquals(listOf("tools"), corral.listTemplates().map { it.name })
                assertEquals(
                    "tools",
                    Json
                        .parseToJsonElement(t.toJson())
                        .jsonObject["name"]
                        ?.jsonPrimitive
                        ?.content,
                )
                val failed = assertFailsWith<CorralException> { corral.buildTemplate("bad", listOf("exit 3")) }
                assertEquals(ErrorKind.INSTALL_FAILED, failed.kind())
                corral.sandbox(SandboxConfig(template = "tools", limits = Limits(diskMb = 64UL))).use { sb ->
                    assertEquals("tpl\n", sb.exec("cat /opt/tpl.txt").stdoutText())
                    sb.shutdown()
                }
                corral.addServer(fixture("fx").copy(template = "tools", files = mapOf("/app/note.txt" to "written before start")))
                assertEquals("tools", corral.server("fx").template)
                assertEquals("written before start", corral.executeTool("fx", "read_file", """{"path": "/app/note.txt"}""").text())
                assertEquals("tpl\n", corral.executeTool("fx", "read_file", """{"path": "/opt/tpl.txt"}""").text())
                corral.removeTemplate("tools")
                assertEquals(emptyList(), corral.listTemplates())
                corral.removeServer("fx")
                val report = corral.prune()
                assertTrue(report.removed.isNotEmpty(), report.toString())
            }
        }

    @Test
    fun `remote servers are http transports`() =
        runBlocking<Unit> {
            newCorral().use { corral ->
                corral.addServer(serverConfigFromUrl("remote", "http://127.0.0.1:9/mcp"))
                val config = corral.server("remote")
                assertNull(config.limits?.memoryMb)
                assertTrue(config.transport is Transport.Http)
                val e = assertFailsWith<CorralException> { corral.discoverTools("remote") }
                assertTrue(e.kind() == ErrorKind.TRANSPORT || e.kind() == ErrorKind.SERVER_START_FAILED, e.toString())
            }
        }
}

/** The fixture server binary the tests drive (the Makefile sets the property). */
fun fixtureServer(): String =
    System.getenv("CORRAL_TEST_SERVER")
        ?: System.getProperty("corral.test.server")
        ?: error("set CORRAL_TEST_SERVER or -Dcorral.test.server")

/** Pids of live (non-zombie) processes whose environment contains `needle` (`KEY=VALUE`). */
fun processesWithEnv(needle: String): List<Long> =
    (java.io.File("/proc").listFiles() ?: emptyArray())
        .mapNotNull { it.name.toLongOrNull() }
        .filter { it != ProcessHandle.current().pid() }
        .filter { pid ->
            val stat = runCatching { java.io.File("/proc/$pid/stat").readText() }.getOrDefault("")
            val environ = runCatching { java.io.File("/proc/$pid/environ").readBytes() }.getOrNull()
            !stat.substringAfterLast(')').trimStart().startsWith("Z") &&
                environ != null &&
                String(environ, Charsets.ISO_8859_1).split('\u0000').contains(needle)
        }
