"""The model behind feedback generation: any OpenAI-compatible chat-completions API, through
the official `openai` SDK (OpenAI, Azure OpenAI v1, Groq, OpenRouter, vLLM, Ollama …)."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from interview_service.errors import BadGateway, Unavailable
from interview_service.feedback.prompt import REPORT_SCHEMA

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RESPONSE_FORMATS = ("json_schema", "json_object")
# How long a client should wait when the provider is down and did not say.
RETRY_AFTER_SECONDS = 30


@dataclass(frozen=True)
class Completion:
    """The model's answer text and what it cost."""

    text: str
    input_tokens: int | None
    output_tokens: int | None


class ProviderUnavailable(Unavailable):
    """The provider is not configured, not reachable, too slow or rate-limiting us."""

    def __init__(self, message, retry_after=RETRY_AFTER_SECONDS):
        super().__init__(message, retry_after=retry_after)


def is_configured(config):
    """True when a provider is set up (a base URL, a key, or both)."""
    return bool(config.get("LLM_BASE_URL") or config.get("LLM_API_KEY"))


def check_settings(config):
    """Refuse a response format the adapter does not speak (at start-up)."""
    if config["LLM_RESPONSE_FORMAT"] not in RESPONSE_FORMATS:
        raise RuntimeError(
            f"LLM_RESPONSE_FORMAT must be one of {RESPONSE_FORMATS}, "
            f"not {config['LLM_RESPONSE_FORMAT']!r}"
        )


def retry_after_of(error):
    """The provider's Retry-After in seconds, when it sent a usable one."""
    value = error.response.headers.get("retry-after", "")
    try:
        return max(1.0, float(value))
    except ValueError:
        return RETRY_AFTER_SECONDS


class ChatProvider:
    """One configured chat-completions endpoint and model."""

    def __init__(self, config, max_retries=0):
        if not is_configured(config):
            raise ProviderUnavailable(
                "No feedback provider is configured (set LLM_API_KEY, or LLM_BASE_URL for a "
                "local OpenAI-compatible server)"
            )
        # Imported on first use: the SDK takes over a second to import, which every gunicorn
        # worker (and `flask` command) would otherwise pay at boot.
        import openai

        base_url = config["LLM_BASE_URL"] or DEFAULT_BASE_URL
        self.name = urlsplit(base_url).hostname or base_url
        self.model = config["LLM_MODEL"]
        self.response_format = config["LLM_RESPONSE_FORMAT"]
        self.client = openai.OpenAI(
            base_url=base_url,
            # Local servers (Ollama, vLLM) take no key, but the SDK insists on one.
            api_key=config["LLM_API_KEY"] or "none",
            timeout=config["LLM_TIMEOUT"],
            max_retries=max_retries,
        )

    def format(self):
        """The `response_format` of each request: the report's JSON schema where supported."""
        if self.response_format == "json_object":
            return {"type": "json_object"}
        return {
            "type": "json_schema",
            "json_schema": {"name": "interview_feedback", "strict": True, "schema": REPORT_SCHEMA},
        }

    def complete(self, messages, timeout):
        """Ask for one answer within `timeout` seconds; provider failures become domain errors."""
        import openai  # already loaded by __init__

        try:
            response = self.client.chat.completions.create(
                model=self.model,
                messages=messages,
                response_format=self.format(),
                temperature=0.2,
                timeout=timeout,
            )
        except openai.APITimeoutError:
            raise ProviderUnavailable("The feedback provider did not answer in time") from None
        except openai.APIConnectionError:
            raise ProviderUnavailable("The feedback provider is unreachable") from None
        except openai.RateLimitError as error:
            raise ProviderUnavailable(
                "The feedback provider is rate-limiting this service", retry_after_of(error)
            ) from None
        except openai.InternalServerError as error:
            raise ProviderUnavailable(
                f"The feedback provider failed ({error.status_code})"
            ) from None
        except openai.APIStatusError as error:
            raise BadGateway(
                f"The feedback provider refused the request ({error.status_code})"
            ) from None
        except openai.OpenAIError:
            raise BadGateway("The feedback provider's answer could not be read") from None
        choice = response.choices[0] if response.choices else None
        usage = response.usage
        return Completion(
            text=(choice.message.content if choice else None) or "",
            input_tokens=usage.prompt_tokens if usage else None,
            output_tokens=usage.completion_tokens if usage else None,
        )
