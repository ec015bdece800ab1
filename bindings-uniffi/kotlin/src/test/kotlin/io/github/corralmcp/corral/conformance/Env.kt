package io.github.corralmcp.corral.conformance

import com.sun.jna.Library
import com.sun.jna.Native
import java.io.File
import java.net.InetAddress
import java.net.ServerSocket
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths

// What a scenario may refer to: `${VAR}` values and the runner-side fixtures (a canary file in the
// host home, a canary variable in the runner's own environment, a TCP listener, the fixture over
// HTTP), plus the capabilities this machine has. Mirrors tests/conformance/src/env.rs.

/** The name of the canary variable set in the runner's own environment. */
const val CANARY_VAR = "CORRAL_CANARY_SECRET"

private const val HTTP_TOKEN = "conformance-token"

/** libc's setenv: the JVM cannot change its own environment, the C library can. */
private interface LibC : Library {
    fun setenv(
        name: String,
        value: String,
        overwrite: Int,
    ): Int
}

class Env(
    private val server: Path,
) : AutoCloseable {
    /** The provider under test (`CORRAL_TEST_PROVIDER`, default `local`). */
    val provider: String = System.getenv("CORRAL_TEST_PROVIDER") ?: "local"

    /** Names of the capabilities present. */
    val capabilities: List<String>

    private val canaryFile: Path
    private val listener: ServerSocket
    private val http: Pair<Process, String>?
    private val workDir: Path = Files.createTempDirectory("corral-conformance-work-")

    init {
        // Set before any corral object exists, as the Rust runner does at start-up.
        val libc = Native.load("c", LibC::class.java)
        check(libc.setenv(CANARY_VAR, "the-runner-secret-must-not-leak", 1) == 0) { "setenv failed" }
        val home = System.getenv("HOME")?.let { Paths.get(it) } ?: Paths.get("/tmp")
        canaryFile = home.resolve(".corral-canary-${ProcessHandle.current().pid()}")
        Files.writeString(canaryFile, "canary")
        listener = ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))
        Thread {
            while (!listener.isClosed) {
                try {
                    listener.accept().close()
                } catch (_: java.io.IOException) {
                    break
                }
            }
        }.apply {
            isDaemon = true
            start()
        }
        val present = mutableListOf("fixture")
        // `sandbox`: stdio servers run in the provider's sandboxes (tests/conformance/README.md).
        if (provider == "local" || provider == "e2b") present += "sandbox"
        if (provider == "local") {
            present += "local-sandbox"
            if (cgroupsWritable()) present += "limits"
        }
        if (System.getenv("CORRAL_TEST_OFFLINE") == null) present += "registry"
        http = runCatching { startHttpFixture(server) }.getOrNull()
        if (http != null) present += "http-fixture"
        capabilities = present
    }

    /** The missing ones of `required`. */
    fun missing(required: List<String>): List<String> = required.filter { it !in capabilities }

    /** The `${VAR}` values of one scenario run. */
    fun vars(tag: String): Map<String, String> {
        val v = mutableMapOf<String, String>()
        v["CORRAL_TEST_SERVER"] = server.toString()
        v["SCENARIO_TAG"] = tag
        v["CANARY_FILE"] = canaryFile.toString()
        v["CANARY_NAME"] = canaryFile.fileName?.toString() ?: ""
        v["HOST_HOME"] = canaryFile.parent?.toString() ?: ""
        v["CANARY_VAR"] = CANARY_VAR
        v["LISTENER_PORT"] = listener.localPort.toString()
        v["WORK_DIR"] = workDir.toString()
        v["HTTP_FIXTURE_TOKEN"] = HTTP_TOKEN
        http?.let { v["HTTP_FIXTURE_URL"] = it.second }
        return v
    }

    override fun close() {
        runCatching { Files.deleteIfExists(canaryFile) }
        http?.first?.let {
            it.destroyForcibly()
            it.waitFor()
        }
        runCatching { listener.close() }
        workDir.toFile().deleteRecursively()
    }
}

private fun startHttpFixture(server: Path): Pair<Process, String> {
    val child =
        ProcessBuilder(server.toString(), "--http", "127.0.0.1:0", "--bearer", HTTP_TOKEN)
            .redirectOutput(ProcessBuilder.Redirect.PIPE)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start()
    val line = child.inputStream.bufferedReader().readLine()
    val url = line?.trim()?.removePrefix("listening ")
    if (line == null || url == line.trim()) {
        child.destroyForcibly()
        error("unexpected first line ${line ?: "(none)"}")
    }
    // Stop the fixture if the JVM dies without closing the Env.
    Runtime.getRuntime().addShutdownHook(Thread { child.destroyForcibly() })
    return child to url!!
}

private fun cgroupsWritable(): Boolean {
    fun probe(dir: String): Boolean {
        val p = File(dir, "corral-probe-${ProcessHandle.current().pid()}")
        val ok = p.mkdir()
        p.delete()
        return ok
    }
    return probe("/sys/fs/cgroup/pids") || probe("/sys/fs/cgroup")
}

/** Pids of live processes whose environment contains `needle` (`KEY=VALUE`). */
fun processesWithEnv(needle: String): List<Long> {
    val me = ProcessHandle.current().pid()
    val wanted = needle.toByteArray()
    val entries = File("/proc").listFiles() ?: return emptyList()
    return entries
        .mapNotNull { it.name.toLongOrNull() }
        .filter { it != me }
        .filter { pid ->
            // Zombies keep no environment; only live processes count.
            val stat = runCatching { File("/proc/$pid/stat").readText() }.getOrDefault("")
            val zombie = stat.substringAfterLast(')').trimStart().startsWith("Z")
            val environ = runCatching { File("/proc/$pid/environ").readBytes() }.getOrNull()
            !zombie && environ != null && splitNul(environ).any { it.contentEquals(wanted) }
        }
}

private fun splitNul(bytes: ByteArray): List<ByteArray> {
    val parts = mutableListOf<ByteArray>()
    var start = 0
    for (i in bytes.indices) {
        if (bytes[i] == 0.toByte()) {
            parts += bytes.copyOfRange(start, i)
            start = i + 1
        }
    }
    parts += bytes.copyOfRange(start, bytes.size)
    return parts
}
