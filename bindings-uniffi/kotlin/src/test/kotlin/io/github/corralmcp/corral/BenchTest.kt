package io.github.corralmcp.corral

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import org.junit.jupiter.api.Tag
import org.junit.jupiter.api.Test
import java.nio.file.Files

/**
 * Per-call cost through the Kotlin binding against the fixture server in a real sandbox
 * (`make bench`; excluded from `make test`). Prints figures, asserts nothing about time.
 */
@Tag("bench")
class BenchTest {
    @Test
    fun `echo through the binding`() =
        runBlocking<Unit> {
            val home = Files.createTempDirectory("corral-kotlin-bench-")
            Corral(CorralOptions(home = home.toString())).use { corral ->
                corral.addServer(ServerConfig(name = "fx", transport = Transport.Stdio(listOf(fixtureServer()))))
                repeat(200) { corral.executeTool("fx", "echo", """{"text": "warm"}""") }
                val n = 2000
                val times = LongArray(n)
                for (i in 0 until n) {
                    val t0 = System.nanoTime()
                    corral.executeTool("fx", "echo", """{"text": "x"}""")
                    times[i] = System.nanoTime() - t0
                }
                times.sort()
                val mean = times.average() / 1000
                println(
                    "kotlin sequential echo: n=$n p50=${times[n / 2] / 1000} µs p90=${times[n * 9 / 10] / 1000} µs mean=${"%.1f".format(
                        mean,
                    )} µs",
                )
                for (inFlight in listOf(8, 32)) {
                    val total = 4000
                    val t0 = System.nanoTime()
                    withContext(Dispatchers.Default) {
                        (0 until inFlight)
                            .map {
                                async { repeat(total / inFlight) { corral.executeTool("fx", "echo", """{"text": "x"}""") } }
                            }.awaitAll()
                    }
                    val secs = (System.nanoTime() - t0) / 1e9
                    println("kotlin concurrent echo: $inFlight in flight, ${"%.0f".format(total / secs)} calls/s")
                }
            }
            home.toFile().deleteRecursively()
        }
}
