// The README's Kotlin example, verbatim between the markers (ReadmeTest checks it and runs it).
package io.github.corralmcp.corral.readme

// README:begin
import io.github.corralmcp.corral.CallOptions
import io.github.corralmcp.corral.Corral
import io.github.corralmcp.corral.CorralException
import io.github.corralmcp.corral.ErrorKind
import kotlinx.coroutines.runBlocking
import java.time.Duration

fun main() =
    runBlocking {
        Corral().use { corral ->
            // local bubblewrap sandboxes; use {} stops them all
            corral.addServerFromJson(
                "everything",
                """
                {"command": "node node_modules/@modelcontextprotocol/server-everything/dist/index.js stdio",
                 "install_commands": ["npm install --no-audit --no-fund @modelcontextprotocol/server-everything@2026.8.31"],
                 "network": "none"}
                """,
            )
            val tools = corral.discoverTools("everything") // all pages, cached
            println("${tools.size} tools: ${tools.take(3).joinToString { it.name }}, …")
            val result = corral.executeTool("everything", "echo", """{"message": "hello from a sandbox"}""")
            println("echo → ${result.text()}")
            try {
                corral.executeTool("everything", "get-sum", """{"a": 2, "b": 40}""", CallOptions(timeout = Duration.ofSeconds(5)))
                corral.executeTool("nope", "echo")
            } catch (e: CorralException) {
                check(e.kind() == ErrorKind.SERVER_NOT_FOUND)
                println("error ${e.code()}") // error SERVER_NOT_FOUND
            }
        }
    }
// README:end
